"""URL helpers that keep secrets out of everything we print, log or store."""

from __future__ import annotations

import re
from typing import ClassVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from gallery_publisher.errors import PublishError

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


class UnsafeUrlPathError(PublishError):
    """A URL path that could name one object when checked and another when used."""

    code: ClassVar[str] = "UnsafeUrlPath"


# Markdown and chat syntax (links, images, mentions, HTML): never part of an image's path.
MARKUP_CHARACTERS = frozenset("[]()!@<>")


def _segment_problem(segment: str) -> str | None:
    if "/" in segment or "\\" in segment:
        return "an encoded '/' or '\\' in a segment"
    if segment in (".", ".."):
        return f"a '{segment}' segment"
    if any(ord(c) < 32 or ord(c) == 127 for c in segment):
        return "a control character"
    if MARKUP_CHARACTERS & set(segment):
        return f"one of {' '.join(sorted(MARKUP_CHARACTERS))}"
    return None


def decoded_segments(url: str) -> list[str]:
    """The URL's path segments, each percent-decoded exactly once, so that the object checked is the
    object used. Refused: an encoded '/' or '\\' (one segment posing as two), '.' and '..' segments
    (encoded or not), control characters, and Markdown or mention syntax (see MARKUP_CHARACTERS)."""
    path = urlsplit(url).path if "://" in url else url.split("?", 1)[0]
    segments = []
    for raw in path.split("/")[1:]:
        try:
            segment = unquote(raw, errors="strict")
            problem = _segment_problem(segment)
        except UnicodeDecodeError:
            problem = "a percent-encoded byte that is not UTF-8"
        if problem:
            raise UnsafeUrlPathError(
                f"the path of {redact_url(url)[:300]!r} has {problem}; give the plain URL of the image, as "
                "the build or the storage account shows it"
            )
        segments.append(segment)
    return segments


def blob_location(url: str, endpoint: str) -> tuple[str, str] | None:
    """(container, blob name) of a blob URL under `endpoint`, decoded once; None when it is not there."""
    base = endpoint.rstrip("/") + "/"
    plain = redact_url(url)
    if not plain.startswith(base):
        return None
    segments = decoded_segments("/" + plain[len(base) :])
    if len(segments) < 2 or not all(segments):
        return None
    return segments[0], "/".join(segments[1:])


def canonical_blob_url(endpoint: str, container: str, blob_name: str) -> str:
    """The one spelling of a blob's URL: each segment encoded as the storage SDK encodes it."""
    return blob_url(endpoint, quote(container, safe=""), quote(blob_name, safe="~/"))
