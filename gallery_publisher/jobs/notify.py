"""Mattermost notifications through an incoming webhook.

The webhook URL is a secret: errors name only its host, never its path.
"""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import urlsplit

import requests

from gallery_publisher.errors import PublishError

TIMEOUT_SECONDS = 15


class NotifyError(PublishError):
    """The notification could not be delivered."""

    code: ClassVar[str] = "Notify"


def post_to_mattermost(
    session: requests.Session, webhook_url: str, text: str, *, channel: str = "", username: str = ""
) -> None:
    payload = {"text": text}
    if channel:
        payload["channel"] = channel
    if username:
        payload["username"] = username
    host = urlsplit(webhook_url).hostname or "the webhook"
    try:
        response = session.post(webhook_url, json=payload, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as error:
        raise NotifyError(f"Mattermost at {host} could not be reached: {type(error).__name__}") from None
    if response.status_code >= 300:
        raise NotifyError(f"Mattermost at {host} answered {response.status_code}: {response.text[:200]}")
