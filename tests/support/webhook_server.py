"""A Mattermost-like incoming webhook on loopback that records what it is sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeWebhook:
    url: str  # ends in a secret-looking path, as a real webhook's does
    bodies: list[bytes] = field(default_factory=list)
    status: int = 200  # what the next posts are answered with

    @property
    def posts(self) -> list[dict[str, Any]]:
        return [json.loads(body) for body in self.bodies]


@contextmanager
def fake_webhook(path: str = "hooks/SECRET-HOOK-ID") -> Iterator[FakeWebhook]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hook.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(hook.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook = FakeWebhook(f"http://127.0.0.1:{server.server_address[1]}/{path}")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
