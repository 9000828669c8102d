"""URL helpers that keep secrets out of everything we print, log or store."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_URL_QUERY = re.compile(r"(https?://[^\s?#'\"]*)[?#][^\s'\"]*")


def redact_url(url: str) -> str:
    """The URL without its query string, fragment or user info (SAS tokens, keys, passwords)."""
    if "://" not in url:
        return url.split("?", 1)[0]
    try:
        parts = urlsplit(url)
    except ValueError:  # a malformed URL (say, a bracketed host that is no IPv6 address) in a message
        scheme, _, rest = re.split(r"[?#]", url, maxsplit=1)[0].partition("://")
        host, slash, path = rest.partition("/")
        return f"{scheme}://{host.rsplit('@', 1)[-1]}{slash}{path}"
    netloc = parts.netloc.rsplit("@", 1)[-1]  # drop user:password@
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def blob_url(endpoint: str, container: str, blob_name: str) -> str:
    return f"{endpoint.rstrip('/')}/{container}/{blob_name}"


def redact_text(text: str) -> str:
    """The text with the query of every URL in it removed (error messages of HTTP libraries quote URLs)."""
    return _URL_QUERY.sub(r"\1", text)


def blob_account_name(url: str) -> str | None:
    """The storage account a blob URL is in: `acct.blob.core.windows.net/…` (Azure), or the first
    path segment of a path-style URL on an IP address or localhost (Azurite, `127.0.0.1:10000/acct/…`)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return None
    labels = host.split(".")
    if "blob" in labels[1:-1]:  # acct.blob.core.windows.net, acct.privatelink.blob.core.windows.net
        return labels[0].lower()
    if host == "localhost" or re.fullmatch(r"[0-9.]+|[0-9a-f:]+", host):
        account = parts.path.lstrip("/").split("/", 1)[0]
        return account.lower() or None
    return None
