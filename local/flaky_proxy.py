"""A fault-injecting HTTP proxy in front of Azurite: Put Page requests can fail on purpose.

Every request is forwarded to the target as it came; every Nth Put Page (`comp=page` with a
write) is answered 503 ServerBusy instead, or its connection is dropped without an answer, as a
storage front end under load does. Used to prove that staging rides out a flaky storage service.
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

SERVER_BUSY = (
    b'<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code>'
    b"<Message>The server is currently unable to receive requests. Please retry your request.</Message></Error>"
)


@dataclass
class PutPageFaults:
    fail_every: int = 0  # 0: never
    drop_connection: bool = False  # drop instead of answering 503


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.command == "PUT" and "comp=page" in self.path and self.server.should_fail():
            if self.server.faults.drop_connection:
                self.close_connection = True
                self.connection.close()
                return
            self.send_response(503, "Server Busy")
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(SERVER_BUSY)))
            self.send_header("x-ms-error-code", "ServerBusy")
            self.end_headers()
            self.wfile.write(SERVER_BUSY)
            return
        upstream = http.client.HTTPConnection(self.server.target_host, self.server.target_port, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            payload = response.read()
            self.send_response(response.status, response.reason)
            # A HEAD answer keeps the upstream Content-Length: it is the blob's size, not this body's.
            skipped = ("connection", "transfer-encoding") + (
                () if self.command == "HEAD" else ("content-length",)
            )
            for name, value in response.getheaders():
                if name.lower() not in skipped:
                    self.send_header(name, value)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        finally:
            upstream.close()

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _forward


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, target: str, faults: PutPageFaults) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        parts = urlsplit(target)
        self.target_host = parts.hostname or "127.0.0.1"
        self.target_port = parts.port or 80
        self.faults = faults
        self.put_pages = 0
        self.failed = 0
        self._lock = threading.Lock()

    def should_fail(self) -> bool:
        with self._lock:
            self.put_pages += 1
            fail = bool(self.faults.fail_every) and self.put_pages % self.faults.fail_every == 0
            self.failed += fail
            return fail


class FlakyProxy:
    """`with FlakyProxy("http://127.0.0.1:10000") as proxy:` then talk to `proxy.url` instead."""

    def __init__(self, target: str, faults: PutPageFaults | None = None) -> None:
        self._server = _ProxyServer(target, faults or PutPageFaults())
        self._thread = threading.Thread(target=self._server.serve_forever, name="flaky-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def failed(self) -> int:
        return self._server.failed

    def set_faults(self, faults: PutPageFaults) -> None:
        self._server.faults = faults

    def __enter__(self) -> FlakyProxy:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
