"""HTTP GETs that connect only to checked addresses and follow redirects by hand, checking each hop.

requests would resolve a host name again when it connects, so a DNS answer that changed after our
check (DNS rebinding) would slip through. Here each hop's URL goes through the SourceGuard, which
resolves and checks the name once, and the connection is made to that very address; the URL keeps
its host name, so the Host header, TLS SNI and certificate checks are those of the name.
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urljoin

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection

from gallery_publisher.source.policy import PinnedTarget, SourceGuard, SourceNotAllowedError
from gallery_publisher.urls import redact_url

MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class _PinnedConnectionMixin:
    """Connect to `pinned_address` instead of resolving the host name again."""

    def __init__(self, *args: Any, pinned_address: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pinned_address = pinned_address

    def _new_conn(self) -> socket.socket:
        this: HTTPConnection = self  # type: ignore[assignment]
        try:
            return connection.create_connection(
                (self._pinned_address, this.port),
                this.timeout,
                source_address=this.source_address,
                socket_options=this.socket_options,
            )
        except TimeoutError as error:
            raise ConnectTimeoutError(this, f"connection to {this.host} timed out") from error
        except OSError as error:
            raise NewConnectionError(this, f"failed to connect to {this.host}: {error}") from error


class _PinnedHTTPConnection(_PinnedConnectionMixin, HTTPConnection):
    pass


class _PinnedHTTPSConnection(_PinnedConnectionMixin, HTTPSConnection):
    pass


class _PinnedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


class _PinnedPoolManager(PoolManager):
    def __init__(self, target: PinnedTarget, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._target = target
        self.pool_classes_by_scheme = {"http": _PinnedHTTPPool, "https": _PinnedHTTPSPool}

    def _new_pool(
        self, scheme: str, host: str, port: int, request_context: dict[str, Any] | None = None
    ) -> HTTPConnectionPool:
        wanted = (self._target.scheme, self._target.host, self._target.port)
        if (scheme, host.strip("[]").rstrip("."), port) != wanted:
            # Only reachable by a bug: each session is made for one checked target.
            raise SourceNotAllowedError(f"refusing a connection to {host}:{port}, which was not checked")
        context = dict(request_context if request_context is not None else self.connection_pool_kw)
        context["pinned_address"] = self._target.address
        return super()._new_pool(scheme, host, port, context)


class PinnedAdapter(HTTPAdapter):
    """A transport adapter whose every connection goes to one checked address."""

    def __init__(self, target: PinnedTarget) -> None:
        self._target = target
        super().__init__(max_retries=0)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        self.poolmanager = _PinnedPoolManager(
            self._target, num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs
        )


def pinned_session(target: PinnedTarget) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # a proxy from the environment would connect where it likes
    adapter = PinnedAdapter(target)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class GuardedClient:
    """GETs through the guard: every hop checked and pinned, redirects bounded. Without a guard
    (an operator's own URL on the command line) it is a plain session that still never redirects
    on its own."""

    def __init__(self, guard: SourceGuard | None, max_redirects: int = MAX_REDIRECTS) -> None:
        self._guard = guard
        self._max_redirects = max_redirects
        self._sessions: dict[PinnedTarget | None, requests.Session] = {}

    def _pin(self, url: str) -> PinnedTarget | None:
        return self._guard.pin(url) if self._guard is not None else None

    def _session(self, target: PinnedTarget | None) -> requests.Session:
        if target not in self._sessions:
            self._sessions[target] = pinned_session(target) if target is not None else requests.Session()
        return self._sessions[target]

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        """GET `url` (kwargs as requests takes them), following at most `max_redirects` redirects."""
        current, target = url, self._pin(url)
        for _ in range(self._max_redirects + 1):
            response = self._session(target).get(current, allow_redirects=False, **kwargs)
            location = response.headers.get("Location")
            if response.status_code not in REDIRECT_STATUSES or not location:
                return response
            response.close()
            following = urljoin(current, location)
            try:
                target = self._pin(following)
            except SourceNotAllowedError as error:
                raise SourceNotAllowedError(
                    f"{redact_url(url)} redirects to {redact_url(following)}, which is refused: {error}"
                ) from None
            current = following
        raise SourceNotAllowedError(
            f"{redact_url(url)} redirects more than {self._max_redirects} times; give the final URL"
        )

    def close(self) -> None:
        for session in self._sessions.values():
            session.close()
        self._sessions.clear()
