"""Secrets never leave: a job run with known secrets, and everything it emitted scanned for them.

Secrets: the signature of a presigned source URL, the function key the client sends, the Mattermost
webhook's secret path, and the storage account key of the connection string. Scanned: every log
record at DEBUG (ours, the Azure SDKs', urllib3's), every custom status an orchestration set, the
outputs, what the status API answered, the summary, the notification posted, and the telemetry
dimensions of every log record (what Application Insights receives as customDimensions).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from gallery_publisher import telemetry
from local.azurite import ACCOUNT_KEY
from local.stack import LocalStack, StackOptions, local_stack
from tests.app_support import put_raw
from tests.webhook_server import FakeWebhook, fake_webhook

SIGNATURE = "SIGNATURE-d41d8cd98f00b204e9800998ecf8427e"
FUNCTION_KEY = "FUNCTION-KEY-5f4dcc3b5aa765d61d8327deb882cf99"
HOOK_PATH = "hooks/WEBHOOK-PATH-098f6bcd4621d373cade4e832627b4f6"


@pytest.fixture(scope="module")
def webhook() -> Iterator[FakeWebhook]:
    with fake_webhook(HOOK_PATH) as hook:
        yield hook


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, webhook: FakeWebhook) -> Iterator[LocalStack]:
    settings = {"GALLERY_PUBLISHER_MATTERMOST_WEBHOOK_URL": webhook.url}
    options = StackOptions(
        workdir=tmp_path_factory.mktemp("stack"), time_scale=0.002, region_seconds=60, settings=settings
    )
    with local_stack(options) as running:
        yield running


def _follow(stack: LocalStack, instance_id: str) -> list[dict[str, Any]]:
    answers = []
    while True:
        response = requests.get(
            f"{stack.runner.origin}/api/publish/{instance_id}",
            headers={"x-functions-key": FUNCTION_KEY},
            timeout=30,
        )
        answers.append(response.json())
        if answers[-1]["runtime_status"] not in ("Pending", "Running"):
            return answers
        threading.Event().wait(0.1)


@pytest.mark.parametrize("dry_run", [False, True])
def test_no_secret_in_anything_a_job_emits(
    stack: LocalStack, webhook: FakeWebhook, caplog: pytest.LogCaptureFixture, dry_run: bool
) -> None:
    caplog.set_level(logging.DEBUG)
    webhook.bodies.clear()
    date = "20251101" if not dry_run else "20251102"
    url = (
        put_raw(stack, f"AlmaLinux-9-Azure-9.6-{date}.0.aarch64.raw")
        + f"?X-Amz-Signature={SIGNATURE}&X-Amz-Expires=3600"
    )
    started = requests.post(
        f"{stack.runner.origin}/api/publish",
        json={"image_url": url, "dry_run": dry_run, "notify": True},
        headers={"x-functions-key": FUNCTION_KEY},
        timeout=30,
    )
    assert started.status_code == 202
    answers = _follow(stack, started.json()["instance_id"])
    assert answers[-1]["runtime_status"] == "Completed", answers[-1]["summary"]
    instances = [
        s for s in stack.runner.statuses() if s.instance_id.startswith(started.json()["instance_id"])
    ]
    assert len(instances) == (1 if dry_run else 2)
    emitted = {
        "logs": caplog.text,
        "telemetry dimensions": json.dumps(
            [{n: getattr(r, n) for n in telemetry.ALL_DIMENSIONS if hasattr(r, n)} for r in caplog.records]
        ),
        "status answers": json.dumps(answers),
        "custom statuses": json.dumps([s.custom_status_history for s in instances], default=str),
        "outputs": json.dumps([s.output for s in instances], default=str),
        "notifications": b"".join(webhook.bodies).decode(),
    }
    assert webhook.bodies and emitted["logs"]  # the scan has something to scan
    assert f'"image": "AlmaLinux-9-Azure-9.6-{date}.0.aarch64.raw"' in emitted["telemetry dimensions"]
    for secret in (SIGNATURE, FUNCTION_KEY, HOOK_PATH, ACCOUNT_KEY):
        leaks = [where for where, text in emitted.items() if secret in text]
        assert leaks == [], f"{secret[:12]}… leaked into {leaks}"
