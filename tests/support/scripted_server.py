"""A loopback HTTP(S) server whose answers a test scripts: redirects, fixed bodies, dropped
connections, and a record of what arrived (method, path, headers, body, TLS server name)."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    drop: bool = False  # close the connection without an answer


@dataclass(frozen=True)
class Arrival:
    path: str
    host: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class ScriptedServer:
    port: int
    arrivals: list[Arrival]
    server_names: list[str]  # SNI of each TLS handshake

    def url(self, host: str, path: str, scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"


@contextmanager
def scripted_server(
    answer: Callable[[str], Answer],
    tls: ssl.SSLContext | None = None,
    answer_post: Callable[[str, bytes], Answer] | None = None,
) -> Iterator[ScriptedServer]:
    """`answer(path)` answers GETs; `answer_post(path, body)` answers POSTs (405 when None)."""
    arrivals: list[Arrival] = []
    server_names: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._record(b"")
            self._reply(answer(self.path))

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self._record(body)
            self._reply(answer_post(self.path, body) if answer_post else Answer(405))

        def _record(self, body: bytes) -> None:
            headers = {name.lower(): value for name, value in self.headers.items()}
            arrivals.append(Arrival(self.path, self.headers.get("Host", ""), self.command, headers, body))

        def _reply(self, reply: Answer) -> None:
            if reply.drop:
                self.close_connection = True
                return
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    if tls is not None:

        def record_name(sock: ssl.SSLObject, name: str | None, context: ssl.SSLContext) -> None:
            server_names.append(name or "")

        tls.sni_callback = record_name
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield ScriptedServer(httpd.server_address[1], arrivals, server_names)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
