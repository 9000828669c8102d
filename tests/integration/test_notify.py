"""Mattermost notifications, posted to a real HTTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from gallery_publisher.jobs.notify import NotifyError, post_to_mattermost
from tests.support.webhook_server import FakeWebhook, fake_webhook


@pytest.fixture
def webhook() -> Iterator[FakeWebhook]:
    with fake_webhook("hooks/SECRETHOOKID") as hook:
        yield hook


def test_posts_text_channel_and_username(webhook: FakeWebhook) -> None:
    post_to_mattermost(
        requests.Session(), webhook.url, "**AlmaLinux** done", channel="sigcloud", username="bot"
    )
    assert webhook.posts == [{"text": "**AlmaLinux** done", "channel": "sigcloud", "username": "bot"}]


def test_an_error_answer_raises_without_the_secret_path(webhook: FakeWebhook) -> None:
    webhook.status = 500
    with pytest.raises(NotifyError) as error:
        post_to_mattermost(requests.Session(), webhook.url, "x")
    assert "answered 500" in str(error.value)
    assert "SECRETHOOKID" not in str(error.value)


def test_an_unreachable_webhook_raises_without_the_secret_path() -> None:
    with pytest.raises(NotifyError) as error:
        post_to_mattermost(requests.Session(), "http://127.0.0.1:9/hooks/SECRETHOOKID", "x")
    assert "could not be reached" in str(error.value)
    assert "SECRETHOOKID" not in str(error.value)
