"""Mattermost notifications, posted to a real HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
import requests

from gallery_publisher.notify import NotifyError, post_to_mattermost


class _Webhook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, str]]] = []
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Webhook.received.append(json.loads(body))
        self.send_response(_Webhook.status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    _Webhook.received, _Webhook.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/SECRETHOOKID"
    server.shutdown()


def test_posts_text_channel_and_username(webhook: str) -> None:
    post_to_mattermost(requests.Session(), webhook, "**AlmaLinux** done", channel="sigcloud", username="bot")
    assert _Webhook.received == [{"text": "**AlmaLinux** done", "channel": "sigcloud", "username": "bot"}]


def test_an_error_answer_raises_without_the_secret_path(webhook: str) -> None:
    _Webhook.status = 500
    with pytest.raises(NotifyError) as error:
        post_to_mattermost(requests.Session(), webhook, "x")
    assert "answered 500" in str(error.value)
    assert "SECRETHOOKID" not in str(error.value)


def test_an_unreachable_webhook_raises_without_the_secret_path() -> None:
    with pytest.raises(NotifyError) as error:
        post_to_mattermost(requests.Session(), "http://127.0.0.1:9/hooks/SECRETHOOKID", "x")
    assert "could not be reached" in str(error.value)
    assert "SECRETHOOKID" not in str(error.value)
