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
