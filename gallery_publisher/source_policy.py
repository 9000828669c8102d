"""Which URLs a job may read from: https to allowed hosts only (plain http to loopback in local mode).

This is the first line against server-side request forgery: a request naming any other host is
refused before anything starts.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from urllib.parse import urlsplit

from gallery_publisher.errors import PublishError
from gallery_publisher.settings import Settings
from gallery_publisher.urls import redact_url


class SourceNotAllowedError(PublishError):
    """A source URL outside the allowed schemes and hosts."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts(settings: Settings) -> tuple[str, ...]:
    blob_host = urlsplit(settings.blob_endpoint).hostname or ""
    return (*settings.allowed_source_hosts, blob_host.lower())


def check_source_url(url: str, settings: Settings) -> None:
    """Refuse a URL whose scheme or host is not allowed; a bare name or path passes (CLI only)."""
    if "://" not in url:
        return
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        raise SourceNotAllowedError(f"source URL {shown!r} is malformed") from None
    if parts.username or parts.password:
        raise SourceNotAllowedError(
            f"source URL {shown} carries a user name or password: put none in the URL"
        )
    if parts.scheme == "http" and settings.local_mode and _is_loopback(host):
        return
    if parts.scheme != "https":
        raise SourceNotAllowedError(f"source URL {shown} must use https (got {parts.scheme or 'no scheme'})")
    patterns = allowed_hosts(settings)
    if not any(fnmatch.fnmatchcase(host, pattern) for pattern in patterns if pattern):
        raise SourceNotAllowedError(
            f"source host {host!r} is not allowed; allowed: {', '.join(p for p in patterns if p)} "
            "(set GALLERY_PUBLISHER_ALLOWED_SOURCE_HOSTS to add one)"
        )
