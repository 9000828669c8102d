"""Secrets never leave: a job run with known secrets, and everything it emitted scanned for them.

Secrets: the signature of a presigned source URL, the function key the client sends, the Mattermost
webhook's secret path, and the storage account key of the connection string. Scanned: every log
record at DEBUG (ours, the Azure SDKs', urllib3's), the 202 of the start, every custom status an
orchestration set, the outputs, the stored history of every instance (inputs, activity inputs and
results), what the status API answered, the summary, the notification posted, and the telemetry
dimensions of every log record (what Application Insights receives as customDimensions). On every path:
published, dry run, and failed at plan, stage, validate and publish.
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
from gallery_publisher.jobs.source_stash import CONTAINER, discard_source_url, stash_source_url
from local.azurite import ACCOUNT_KEY
from local.stack import LocalStack, StackOptions, local_stack
from tests.support.app_support import put_raw
from tests.support.webhook_server import FakeWebhook, fake_webhook

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
        workdir=tmp_path_factory.mktemp("stack"),
        time_scale=0.002,
        region_seconds=60,
        settings=settings,
        function_key=FUNCTION_KEY,
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


def _signed(url: str) -> str:
    return url + f"?X-Amz-Signature={SIGNATURE}&X-Amz-Expires=3600"


def _run_and_scan(
    stack: LocalStack, webhook: FakeWebhook, caplog: pytest.LogCaptureFixture, body: dict[str, Any]
) -> dict[str, Any]:
    """Run a job to its end; assert no secret is in anything it emitted; return its last status."""
    caplog.set_level(logging.DEBUG)
    webhook.bodies.clear()
    started = requests.post(
        f"{stack.runner.origin}/api/publish",
        json=body | {"notify": True},
        headers={"x-functions-key": FUNCTION_KEY},
        timeout=30,
    )
    assert started.status_code == 202, started.text
    # Our own route only: the Durable check-status URLs would hand out the task hub's system key.
    assert set(started.json()) == {"instance_id", "status_url"}
    instance_id = started.json()["instance_id"]
    answers = _follow(stack, instance_id)
    instances = [s for s in stack.runner.statuses() if s.instance_id.startswith(instance_id)]
    emitted = {
        "the 202": started.text,
        "logs": caplog.text,
        "telemetry dimensions": json.dumps(
            [{n: getattr(r, n) for n in telemetry.ALL_DIMENSIONS if hasattr(r, n)} for r in caplog.records]
        ),
        "status answers": json.dumps(answers),
        "custom statuses": json.dumps([s.custom_status_history for s in instances], default=str),
        "inputs": json.dumps([s.input for s in instances], default=str),
        "outputs": json.dumps([s.output for s in instances], default=str),
        "histories": json.dumps([stack.runner.history(s.instance_id) for s in instances], default=str),
        "notifications": b"".join(webhook.bodies).decode(),
    }
    assert webhook.bodies and emitted["logs"] and "image_url" in emitted["histories"]  # something to scan
    assert f'"instance_id": "{instance_id}"' in emitted["telemetry dimensions"]
    for secret in (SIGNATURE, FUNCTION_KEY, HOOK_PATH, ACCOUNT_KEY):
        leaks = [where for where, text in emitted.items() if secret in text]
        assert leaks == [], f"{secret[:12]}… leaked into {leaks}"
    # The stash of the signed URL is gone once the job is over, whatever its end.
    stash = stack.blobs.get_container_client(CONTAINER)
    assert not stash.exists() or instance_id not in list(stash.list_blob_names())
    return answers[-1]


def _source_saw_the_signature(stack: LocalStack, file_name: str) -> bool:
    """Staging read the RAW with the signed URL (from the stash), not the stripped one."""
    return any(
        record.path.split("?", 1)[0].endswith(f"/{file_name}") and SIGNATURE in record.path
        for record in stack.source.requests
    )


@pytest.mark.parametrize("dry_run", [False, True])
def test_no_secret_in_anything_a_job_emits(
    stack: LocalStack, webhook: FakeWebhook, caplog: pytest.LogCaptureFixture, dry_run: bool
) -> None:
    date = "20251101" if not dry_run else "20251102"
    name = f"AlmaLinux-9-Azure-9.6-{date}.0.aarch64.raw"
    last = _run_and_scan(
        stack, webhook, caplog, {"image_url": _signed(put_raw(stack, name)), "dry_run": dry_run}
    )
    assert last["runtime_status"] == "Completed", last["summary"]
    assert _source_saw_the_signature(stack, name) is not dry_run


def test_no_secret_when_planning_fails(
    stack: LocalStack, webhook: FakeWebhook, caplog: pytest.LogCaptureFixture
) -> None:
    url = _signed(put_raw(stack, "AlmaLinux-9-Azure-9.6-20251103.0.aarch64.raw"))
    stack.emulator.set_faults(server_error_every=1)  # the gallery answers nothing but 503
    try:
        last = _run_and_scan(stack, webhook, caplog, {"image_url": url, "dry_run": False})
    finally:
        stack.emulator.set_faults(server_error_every=0)
    assert last["runtime_status"] == "Failed" and "Failed at step **plan**" in last["summary"]


def test_no_secret_when_staging_fails(
    stack: LocalStack, webhook: FakeWebhook, caplog: pytest.LogCaptureFixture
) -> None:
    name = "AlmaLinux-9-Azure-9.6-20251104.0.aarch64.raw"
    url = _signed(put_raw(stack, name))
    stack.raw_path(f"{name}.sha256sum").write_text(f"{'0' * 64}  {name}\n")  # a wrong checksum
    last = _run_and_scan(stack, webhook, caplog, {"image_url": url, "dry_run": False})
    assert last["runtime_status"] == "Failed" and "Failed at step **stage**" in last["summary"]
    assert _source_saw_the_signature(stack, name)


def test_no_secret_when_publishing_fails(
    stack: LocalStack, webhook: FakeWebhook, caplog: pytest.LogCaptureFixture
) -> None:
    url = _signed(put_raw(stack, "AlmaLinux-9-Azure-9.6-20251105.0.aarch64.raw"))
    stack.emulator.set_faults(fail_regions=["eastus"])
    try:
        last = _run_and_scan(stack, webhook, caplog, {"image_url": url, "dry_run": False})
    finally:
        stack.emulator.set_faults(fail_regions=[])
    assert last["runtime_status"] == "Failed" and "Failed at step **publish**" in last["summary"]


def test_a_vhd_url_loses_its_sas_at_the_start(
    stack: LocalStack, webhook: FakeWebhook, caplog: pytest.LogCaptureFixture
) -> None:
    """The app reads its own account with its own identity: a SAS on a VHD URL is dropped, not stashed."""
    url = f"{stack.azurite.blob_endpoint}/9-arm64/almalinux-9.6-arm64.20251106-01.vhd?sv=2024&sig={SIGNATURE}"
    last = _run_and_scan(stack, webhook, caplog, {"image_url": url, "dry_run": False})
    assert last["runtime_status"] == "Failed" and "Failed at step **validate**" in last["summary"]


def test_the_stash_is_private(stack: LocalStack) -> None:
    stash_source_url(
        stack.blobs, "publish-test-stash-000000000000", _signed("https://b.s3.amazonaws.com/x.raw")
    )
    container = stack.blobs.get_container_client(CONTAINER)
    assert container.get_container_properties().public_access is None
    discard_source_url(stack.blobs, "publish-test-stash-000000000000")
    assert list(container.list_blob_names()) == []
