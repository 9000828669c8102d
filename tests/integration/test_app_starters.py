"""The app's registered functions, its Event Grid starter and its notifications, on the local stack."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import function_app
from activities.services import app_settings
from gallery_publisher.jobs.request import job_instance_id, parse_job_request
from gallery_publisher.staging import vhd
from gallery_publisher.urls import redact_url
from local.stack import LocalStack, StackOptions, local_stack
from orchestrators import names
from tests.support.app_support import RAW_REGIONS, RAW_SIZE, post, put_raw, put_vhd_blob, run_job
from tests.support.raw_images import write_sparse_raw
from tests.support.webhook_server import FakeWebhook

TIME_SCALE = 0.002


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, mattermost: FakeWebhook) -> Iterator[LocalStack]:
    settings = {
        "GALLERY_PUBLISHER_MATTERMOST_WEBHOOK_URL": mattermost.url,
        "GALLERY_PUBLISHER_MATTERMOST_CHANNEL": "sigcloud",
    }
    options = StackOptions(workdir=tmp_path_factory.mktemp("stack"), time_scale=TIME_SCALE, settings=settings)
    with local_stack(options) as running:
        yield running


def test_registered_functions_and_their_triggers() -> None:
    functions = {f.get_function_name(): f for f in function_app.create_app().get_functions()}
    triggers = {name: f.get_trigger().type for name, f in functions.items()}
    assert triggers == {
        "start_publish": "httpTrigger",
        "publish_status": "httpTrigger",
        "publish_runs": "httpTrigger",
        "start_from_blob": "eventGridTrigger",
        "clean_up_leftovers": "timerTrigger",
        "publish_image": "orchestrationTrigger",
        "gallery_version": "orchestrationTrigger",
        "plan_job": "activityTrigger",
        "stage_raw": "activityTrigger",
        "forget_source_url": "activityTrigger",
        "validate_vhd": "activityTrigger",
        "release_vhd": "activityTrigger",
        "start_gallery_version": "activityTrigger",
        "poll_gallery_version": "activityTrigger",
        "report_job": "activityTrigger",
        "job_page": "httpTrigger",
        "list_jobs": "httpTrigger",
    }
    bindings = {name: json.loads(f.get_function_json())["bindings"] for name, f in functions.items()}
    [publish] = [b for b in bindings["start_publish"] if b["type"] == "httpTrigger"]
    assert (publish["route"], publish["methods"], publish["authLevel"]) == ("publish", ["POST"], "FUNCTION")
    [status] = [b for b in bindings["publish_status"] if b["type"] == "httpTrigger"]
    assert (status["route"], status["methods"], status["authLevel"]) == (
        "publish/{instance_id}",
        ["GET"],
        "FUNCTION",
    )
    [runs] = [b for b in bindings["publish_runs"] if b["type"] == "httpTrigger"]
    assert (runs["route"], runs["methods"], runs["authLevel"]) == (
        "publish/{instance_id}/runs",
        ["GET"],
        "FUNCTION",
    )
    [timer] = bindings["clean_up_leftovers"]
    assert (timer["type"], timer["schedule"], timer["runOnStartup"]) == (
        "timerTrigger",
        "0 17 * * * *",
        False,
    )
    for page, route in (("job_page", "jobs"), ("list_jobs", "jobs/list")):
        [trigger] = [b for b in bindings[page] if b["type"] == "httpTrigger"]
        assert (trigger["route"], trigger["methods"], trigger["authLevel"]) == (route, ["GET"], "FUNCTION")
    for starter in ("start_publish", "publish_status", "publish_runs", "start_from_blob"):
        assert {"direction": "IN", "type": "durableClient", "name": "client"} in bindings[starter]
    # The blob starter gets the Event Grid event (a URL), never a binding that reads blob content.
    assert {b["type"] for b in bindings["start_from_blob"]} == {"durableClient", "eventGridTrigger"}


def _blob_created(url: str, event_type: str = "Microsoft.Storage.BlobCreated") -> dict[str, Any]:
    """The event as Event Grid posts it (Event Grid schema, JSON); the worker decodes it for the function."""
    container_and_name = url.split("/devstoreaccount1/", 1)[1]
    return {
        "id": str(uuid.uuid4()),
        "topic": "/subscriptions/x/resourceGroups/rg-alma-images/providers/Microsoft.Storage/storageAccounts/almalinux",
        "subject": f"/blobServices/default/containers/{container_and_name.replace('/', '/blobs/', 1)}",
        "eventType": event_type,
        "eventTime": datetime.now(UTC).isoformat(),
        "data": {"api": "PutBlob", "url": url, "blobType": "PageBlob"},
        "dataVersion": "",
        "metadataVersion": "1",
    }


def _instances(stack: LocalStack) -> set[str]:
    return {s.instance_id for s in stack.runner.statuses() if s.name == "publish_image"}


def test_a_vhd_landing_in_a_container_starts_a_dry_run(stack: LocalStack) -> None:
    url = put_vhd_blob(stack, "9-arm64", "almalinux-9.6-arm64.20250610-01.vhd")
    before = _instances(stack)
    stack.runner.call_function("start_from_blob", event=_blob_created(url))
    [started] = _instances(stack) - before
    status = stack.runner.wait_for(started, 60)
    assert status.runtime_status.value == "Completed"
    assert status.output["result"]["outcome"] == "dry_run"
    assert status.output["result"]["plan"]["blob_url"] == url


def test_other_events_and_blobs_are_ignored(stack: LocalStack) -> None:
    vhd_url = put_vhd_blob(stack, "9-arm64", "almalinux-9.6-arm64.20250611-01.vhd")
    before = _instances(stack)
    stack.runner.call_function(
        "start_from_blob", event=_blob_created(vhd_url, "Microsoft.Storage.BlobDeleted")
    )
    base = vhd_url.split("/9-arm64/", 1)[0]
    stack.runner.call_function("start_from_blob", event=_blob_created(f"{base}/9-arm64/notes.txt"))
    stack.runner.call_function(
        "start_from_blob", event=_blob_created(f"{base}/scratch/almalinux-9.6-arm64.20250611-01.vhd")
    )
    assert _instances(stack) == before


def test_notification_carries_the_summary_and_never_the_secrets(
    stack: LocalStack, mattermost: FakeWebhook
) -> None:
    mattermost.bodies.clear()
    url = put_raw(stack, "AlmaLinux-9-Azure-9.6-20250612.0.aarch64.raw") + "?X-Amz-Signature=SECRET-SIGNATURE"
    status = run_job(stack, {"image_url": url, "dry_run": False, "notify": True})
    assert status["runtime_status"] == "Completed", status["summary"]
    [post] = mattermost.posts
    assert post["channel"] == "sigcloud"
    assert post["text"] == status["summary"]
    assert "- Created: 'almalinux_ci/almalinux-9-arm64/9.6.2025061201'" in post["text"]
    instance = stack.runner.status(status["instance_id"])
    assert instance is not None
    everything = json.dumps([post, status, instance.custom_status_history, instance.output])
    assert "SECRET-SIGNATURE" not in everything
    assert "SECRET-HOOK-ID" not in everything


def test_a_vhd_staged_by_a_job_does_not_start_another(stack: LocalStack) -> None:
    url = put_raw(stack, "AlmaLinux-9-Azure-9.6-20250613.0.aarch64.raw")
    status = run_job(stack, {"image_url": url, "dry_run": False})
    assert status["runtime_status"] == "Completed", status["summary"]
    before = _instances(stack)
    stack.runner.call_function("start_from_blob", event=_blob_created(status["output"]["plan"]["blob_url"]))
    assert _instances(stack) == before


def test_a_start_that_fails_for_another_reason_is_a_500_with_the_reason(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The runner refuses an orchestrator name it does not know, as the Durable extension does.
    monkeypatch.setattr(names, "PUBLISH_IMAGE", "publish_image_renamed")
    url = put_raw(stack, "AlmaLinux-9-Azure-9.6-20250614.0.aarch64.raw")
    response = post(stack, {"image_url": url, "dry_run": True})
    assert response.status_code == 500, response.text
    error = response.json()["error"]
    assert error.startswith("the job could not be started: ") and "publish_image_renamed" in error
    assert stack.runner.status(response.json()["instance_id"]) is None


class _FailingClient:
    """A durable client whose start_new fails with a URL carrying a SAS in its message: the real
    extension's errors can quote URLs, and the runner has no way to produce one."""

    async def get_status(self, instance_id: str, show_input: bool = False) -> None:
        return None

    async def start_new(self, name: str, instance_id: str, job: object) -> str:
        raise Exception(
            "PUT https://almalinux.blob.core.windows.net/hub/x?sv=2024-01-01&sig=SECRET-SIG failed"
        )


def test_the_reason_of_a_failed_start_is_redacted() -> None:
    body = {"image_url": "https://almalinux.s3.amazonaws.com/AlmaLinux-9-Azure-9.6-20250615.0.x86_64.raw"}
    instance_id = job_instance_id(parse_job_request(body, app_settings()), app_settings())
    with pytest.raises(function_app.StartFailed) as raised:
        asyncio.run(function_app._start(_FailingClient(), instance_id, {"request": body}))
    assert "SECRET-SIG" not in str(raised.value)
    assert "https://almalinux.blob.core.windows.net/hub/x" in str(raised.value)


def test_a_dynamic_vhd_dropped_in_a_container_is_staged_as_a_fixed_copy(
    stack: LocalStack, tmp_path: Path
) -> None:
    raw = tmp_path / "disk.raw"
    data = write_sparse_raw(raw, RAW_SIZE, RAW_REGIONS)
    dynamic = tmp_path / "dynamic.vhd"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vpc", "-o", "subformat=dynamic,force_size", raw, dynamic],
                   check=True)  # fmt: skip
    dropped = stack.blobs.get_blob_client("9-arm64", "almalinux-9.6-arm64.20250614-01.vhd")
    dropped.upload_blob(dynamic.read_bytes())  # as `az storage blob upload` does by default: a block blob
    url = redact_url(dropped.url)
    before = _instances(stack)
    stack.runner.call_function("start_from_blob", event=_blob_created(url))
    [started] = _instances(stack) - before
    status = stack.runner.wait_for(started, 60)
    assert status.runtime_status.value == "Completed"
    plan = status.output["result"]["plan"]
    # The dropped blob keeps its name and content; the copy takes the next upload index.
    assert (plan["source_kind"], plan["blob_name"]) == ("raw", "almalinux-9.6-arm64.20250614-02.vhd")

    published = run_job(stack, {"image_url": url, "url_type": "raw", "dry_run": False})
    assert published["runtime_status"] == "Completed", published["summary"]
    copy = (
        stack.blobs.get_blob_client("9-arm64", "almalinux-9.6-arm64.20250614-02.vhd")
        .download_blob()
        .readall()
    )
    disk = vhd.padded_disk_size(len(data))
    assert copy[: len(data)] == data and copy[len(data) : disk] == bytes(disk - len(data))
    assert vhd.check_fixed_vhd(len(copy), copy[-512:]).disk_size == disk
    assert dropped.download_blob().readall() == dynamic.read_bytes()


def test_a_fixed_vhd_is_not_copied(stack: LocalStack) -> None:
    url = put_vhd_blob(stack, "9-arm64", "almalinux-9.6-arm64.20250615-01.vhd")
    status = post(stack, {"image_url": url, "url_type": "raw", "dry_run": False})
    assert status.status_code == 202
    finished = stack.runner.wait_for(status.json()["instance_id"], 60)
    assert finished.runtime_status.value == "Failed"
    assert "is not a dynamic VHD, so there is nothing to convert" in json.dumps(finished.output)
