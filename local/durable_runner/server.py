"""A small threaded HTTP server on loopback: the durable API, and the app's `/api/` routes."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .client_api import HttpReply

log = logging.getLogger(__name__)

Handler = Callable[[str, str, dict[str, str], bytes], HttpReply]


class LoopbackServer:
    def __init__(self, handler: Handler, port: int = 0) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_class(handler))
        self._server.daemon_threads = True
        # A short poll interval: `shutdown` waits for it, and tests start and stop many runners.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="durable-runner-http",
            daemon=True,
        )

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def _handler_class(handler: Handler) -> type[BaseHTTPRequestHandler]:
    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                reply = handler(self.command, self.path, dict(self.headers.items()), body)
            except Exception:
                log.exception(
                    "local durable runner failed to answer %s %s", self.command, self.path.split("?")[0]
                )
                reply = HttpReply(500, b'{"Message": "local durable runner error"}')
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

        def log_message(self, format: str, *args: object) -> None:
            # Request lines carry the system key in the query string: keep them out of the logs.
            log.debug("%s %s", self.command, self.path.split("?")[0])

    return RequestHandler
