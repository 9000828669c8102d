"""URL helpers that keep secrets out of everything we print, log or store."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def redact_url(url: str) -> str:
    """The URL without its query string, fragment or user info (SAS tokens, keys, passwords)."""
    if "://" not in url:
        return url.split("?", 1)[0]
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]  # drop user:password@
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def blob_url(endpoint: str, container: str, blob_name: str) -> str:
    return f"{endpoint.rstrip('/')}/{container}/{blob_name}"
