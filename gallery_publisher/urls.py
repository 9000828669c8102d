"""URL helpers that keep secrets out of everything we print, log or store."""

from __future__ import annotations

import re
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


class UnsafeUrlPathError(PublishError):
    """A URL path that could name one object when checked and another when used."""


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
