"""Which URLs a job may read from, and which addresses it may connect to for them.

Server-side request forgery is stopped in two places. When a request arrives, its URL must be https
to an allowed host name (plain http to loopback in local mode only), with no user info and no IP
literal. When the bytes are fetched, the host is resolved, every address it resolves to must be
public, and the connection goes to the address that was checked (see `pinned_http`): a DNS answer
that changed since the request, or a redirect to an internal address, is refused there.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlsplit

from gallery_publisher.errors import PublishError
from gallery_publisher.planning.settings import Settings
from gallery_publisher.urls import redact_url

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses it resolves to, as strings. Tests pass their own; production uses DNS.
Resolver = Callable[[str, int], list[str]]

_DNS_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")
# WHATWG URL parsing (and inet_aton) read a host whose last label is a number as an IPv4 address:
# 2130706433, 0x7f.1 and 0177.0.0.1 all mean 127.0.0.1 to some library on the way.
_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Public-looking addresses that answer only from inside a cloud: Azure's platform endpoint (the
# WireServer, which hands out VM extension settings) and Oracle Cloud's metadata service.
_CLOUD_ENDPOINTS: dict[IPAddress, str] = {
    ipaddress.IPv4Address("168.63.129.16"): "Azure's platform endpoint (WireServer)",
    ipaddress.IPv4Address("192.0.0.192"): "a cloud metadata endpoint",
}


class SourceNotAllowedError(PublishError):
    """A source URL, redirect or address outside what the policy allows."""

    code: ClassVar[str] = "SourceNotAllowed"


@dataclass(frozen=True)
class PinnedTarget:
    """A checked URL's host and port, and the one address connections to it must go to."""

    scheme: str
    host: str
    port: int
    address: str


def _is_loopback_name(host: str) -> bool:
    literal = _ip_literal(host)
    return host == "localhost" or (literal is not None and literal.is_loopback)


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _looks_numeric(host: str) -> bool:
    labels = host.rstrip(".").split(".")
    return bool(labels[-1]) and _NUMERIC_LABEL.fullmatch(labels[-1]) is not None


def allowed_hosts(settings: Settings) -> tuple[str, ...]:
    blob_host = urlsplit(settings.blob_endpoint).hostname or ""
    return (*settings.allowed_source_hosts, blob_host.lower())


def _host_of(url: str) -> tuple[str, str, int]:
    """(scheme, lower-case host, port) of a URL; SourceNotAllowedError when it is malformed."""
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        raise SourceNotAllowedError(f"source URL {shown!r} is malformed") from None
    if parts.username is not None or parts.password is not None:
        raise SourceNotAllowedError(
            f"source URL {shown} carries a user name or password: put none in the URL"
        )
    if not host:
        raise SourceNotAllowedError(f"source URL {shown!r} names no host")
    return parts.scheme.lower(), host, port or (443 if parts.scheme.lower() == "https" else 80)


def check_source_url(url: str, settings: Settings) -> None:
    """Refuse a URL whose scheme or host is not allowed; a bare name or path passes (CLI only).

    This check needs no network: it runs when a request arrives, and again before every fetch."""
    if "://" not in url:
        return
    shown = redact_url(url)
    scheme = url.partition("://")[0].lower()
    if scheme not in ("http", "https"):
        raise SourceNotAllowedError(f"source URL {shown} must use https (got {scheme or 'no scheme'})")
    _, host, _ = _host_of(url)
    if scheme == "http" and settings.local_mode and _is_loopback_name(host):
        return
    if scheme != "https":
        raise SourceNotAllowedError(f"source URL {shown} must use https (got {scheme})")
    _, _, port = _host_of(url)
    if port not in settings.allowed_source_ports:
        ports = ", ".join(map(str, settings.allowed_source_ports))
        raise SourceNotAllowedError(
            f"source URL {shown} uses port {port}; allowed: {ports} "
            "(set GALLERY_PUBLISHER_ALLOWED_SOURCE_PORTS to add one)"
        )
    literal = _ip_literal(host)
    if literal is not None and not (settings.local_mode and literal.is_loopback):
        raise SourceNotAllowedError(
            f"source URL {shown} names an IP address ({host}); use the host name of the bucket or storage account"
        )
    if literal is None and (not _DNS_NAME.fullmatch(host) or _looks_numeric(host)):
        raise SourceNotAllowedError(
            f"source host {host!r} is not a plain DNS name (letters, digits, dots and dashes, no final dot, "
            "not a number); "
            "use the host name of the bucket or storage account"
        )
    # From here on a host name has no final dot: the plain-DNS-name rule above refuses one.
    patterns = [pattern for pattern in allowed_hosts(settings) if pattern]
    if literal is None and not any(fnmatch.fnmatchcase(host, p) for p in patterns):
        raise SourceNotAllowedError(
            f"source host {host!r} is not allowed; allowed: {', '.join(patterns)} "
            "(set GALLERY_PUBLISHER_ALLOWED_SOURCE_HOSTS to add one)"
        )


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, NAT64), which is where packets end up."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_problem(address: IPAddress, local_mode: bool) -> str | None:
    """Why a job may not connect to `address`, or None when it may (public; loopback in local mode)."""
    effective = _embedded_ipv4(address) or address
    if effective in _CLOUD_ENDPOINTS:
        return _CLOUD_ENDPOINTS[effective]
    if effective.is_loopback:
        return None if local_mode else "a loopback address"
    checks = (
        (effective.is_unspecified, "the unspecified address"),
        (effective.is_link_local, "a link-local address (cloud metadata lives there)"),
        (effective.is_multicast, "a multicast address"),
        (effective.is_private, "a private address"),
        # fec0::/10 was deprecated (RFC 3879) but routers inside a site may still route it, and Python
        # counts it as global: refused as the private range it was.
        (isinstance(effective, ipaddress.IPv6Address) and effective.is_site_local, "a site-local address"),
        (effective.is_reserved, "a reserved address"),
        (not effective.is_global, "not a public address"),
    )
    return next((reason for flagged, reason in checks if flagged), None)


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class SourceGuard:
    """The download-time check: the URL policy, then name resolution and the address policy."""

    settings: Settings
    resolver: Resolver = system_resolver

    def pin(self, url: str) -> PinnedTarget:
        """Check `url` and its addresses; return the address to connect to. Nothing is sent."""
        if "://" not in url:
            raise SourceNotAllowedError(f"{redact_url(url)} is not a URL")
        check_source_url(url, self.settings)
        scheme, host, port = _host_of(url)
        literal = _ip_literal(host)
        if literal is not None:
            addresses = [str(literal)]
        else:
            # A resolver's OSError (no such name, DNS down) propagates: the caller retries it.
            try:
                addresses = self.resolver(host, port)
            except UnicodeError:
                raise SourceNotAllowedError(f"source host {host!r} is not a valid DNS name") from None
        if not addresses:
            raise SourceNotAllowedError(f"source host {host!r} resolves to no address")
        checked: list[IPAddress] = []
        for text in addresses:
            address = ipaddress.ip_address(text.partition("%")[0])  # without an IPv6 zone
            problem = address_problem(address, self.settings.local_mode)
            # One bad address is enough to refuse: a name that also points inward is not a bucket.
            if problem:
                raise SourceNotAllowedError(
                    f"source host {host!r} resolves to {address}, {problem}: refusing to connect"
                )
            checked.append(address)
        return PinnedTarget(scheme, host, port, str(checked[0]))
