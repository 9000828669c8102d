"""Shared fixtures: the real local services the integration tests run against."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from local.azurite import Azurite, run_azurite
from tests.support.webhook_server import FakeWebhook, fake_webhook


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """One Azurite for the whole run, on a free port, stopped (process group and all) at the end."""
    location: Path = tmp_path_factory.mktemp("azurite")
    with run_azurite(location) as service:
        yield service


@pytest.fixture(scope="module")
def mattermost() -> Iterator[FakeWebhook]:
    """A fake Mattermost incoming webhook on loopback, one per test module; it records every post."""
    with fake_webhook() as hook:
        yield hook
