"""The whole job, end to end, on the local stack: Azurite, the gallery emulator, the RAW source
server, and the app's real functions driven by the durable runner on the real replay engine."""

from __future__ import annotations

import hashlib
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from activities.services import app_services
from local.sample_image import build_sample_raw
from local.source_server import Faults
from local.stack import LocalStack, StackOptions, local_stack
from tests.integration.test_staging import qemu_vhd, with_identity_of
from tests.support.app_support import (
    activity_answers,
    blob_md5,
    job_status,
    key_header,
    post,
    put_raw,
    put_vhd_blob,
    run_job,
    snapshot,
    vhd_footer_ok,
)

# 1/500 of Azure's pace: a 10-minute replication takes 1.2 s, a 60 s poll interval 0.12 s.
TIME_SCALE = 0.002


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with local_stack(
        StackOptions(workdir=tmp_path_factory.mktemp("stack"), time_scale=TIME_SCALE)
    ) as running:
        yield running


def versions_of(gallery: str, definition: str) -> dict[str, tuple[str | None, str | None]]:
    listed = app_services().gallery.list_versions(gallery, definition)
    return {v.name: (v.provisioning_state, v.source_uri) for v in listed}


def test_raw_x86_64_publishes_gen1_and_gen2_in_parallel(stack: LocalStack) -> None:
    url = put_raw(stack, "AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw")
    status = run_job(stack, {"image_url": url, "dry_run": False})
    assert status["runtime_status"] == "Completed", status["summary"]
    result = status["output"]
    assert result["outcome"] == "published"
    blob_url = result["plan"]["blob_url"]
    assert blob_url.endswith("/9-default/almalinux-9.6-x86_64.20250522-01.vhd")
    for definition in ("almalinux-9-gen1", "almalinux-9-gen2"):
        assert versions_of("almalinux_ci", definition)["9.6.2025052201"] == ("Succeeded", blob_url)
    download, content_md5 = blob_md5(stack.blobs, blob_url)
    assert download == content_md5 == result["staged"]["md5"]
    assert vhd_footer_ok(stack.blobs, blob_url)
    assert "- Created: 'almalinux_ci/almalinux-9-gen1/9.6.2025052201'" in status["summary"]
    assert "- Released to Gallery: ✅" in status["summary"]
    # Both versions were being created at the same time: each child started before the other ended.
    instance_id = status["instance_id"]
    gen1 = stack.runner.status(f"{instance_id}:almalinux-9-gen1")
    gen2 = stack.runner.status(f"{instance_id}:almalinux-9-gen2")
    assert gen1 is not None and gen2 is not None
    assert gen1.created_time < gen2.last_updated_time and gen2.created_time < gen1.last_updated_time
    # Per-region progress was published while replicating, rising to 100 %.
    history = gen1.custom_status_history
    progress = [r["progress"] for s in history for r in s["regions"] if r["region"] == "East US"]
    assert progress[-1] == 100 and min(progress) < 100


@pytest.mark.parametrize(
    ("file_name", "container", "blob_name", "versions"),
    [
        ("AlmaLinux-9-Azure-9.6-20250601.0.aarch64.raw", "9-arm64", "almalinux-9.6-arm64.20250601-01.vhd",
         [("almalinux-9-arm64", "9.6.2025060101")]),
        ("AlmaLinux-9-Azure-9.6-20250601.0-64k.aarch64.raw", "9-arm64-64k",
         "AlmaLinux-Azure-9.6-202506010-64k.aarch64.vhd", [("almalinux-9-arm64-64k", "9.6.202506010")]),
        ("AlmaLinux-10-Azure-10.0-20250601.0.x86_64.raw", "almalinux-10",
         "AlmaLinux-10-Azure-10.0-20250601.0.x86_64.vhd",
         [("almalinux-10-gen1", "10.0.202506010"), ("almalinux-10-gen2", "10.0.202506010")]),
        ("AlmaLinux-Kitten-Azure-10-20250601.0.aarch64.raw", "kitten-10",
         "AlmaLinux-Kitten-Azure-10-20250601.0.aarch64.vhd", [("almalinux-ci-kitten-10-arm64-gen2", "10.20250601.0")]),
    ],
)  # fmt: skip
def test_raw_families(
    stack: LocalStack, file_name: str, container: str, blob_name: str, versions: list[tuple[str, str]]
) -> None:
    status = run_job(stack, {"image_url": put_raw(stack, file_name), "dry_run": False})
    assert status["runtime_status"] == "Completed", status["summary"]
    blob_url = status["output"]["plan"]["blob_url"]
    assert blob_url.endswith(f"/{container}/{blob_name}")
    for definition, version in versions:
        assert versions_of("almalinux_ci", definition)[version] == ("Succeeded", blob_url)


@pytest.mark.parametrize(
    ("container", "blob_name", "definition", "version"),
    [
        ("8-arm64", "almalinux-8.10-arm64.20250602-03.vhd", "almalinux-8-arm64", "8.10.2025060203"),
        ("almalinux-10", "AlmaLinux-10-Azure-10.0-20250602.1-64k.aarch64.vhd", "almalinux-ci-10-arm64-64k-gen2",
         "10.0.202506021"),
    ],
)  # fmt: skip
def test_vhd_input_is_validated_and_published(
    stack: LocalStack, container: str, blob_name: str, definition: str, version: str
) -> None:
    url = put_vhd_blob(stack, container, blob_name)
    status = run_job(stack, {"image_url": url, "dry_run": False})
    assert status["runtime_status"] == "Completed", status["summary"]
    assert status["output"]["staged"]["blob_url"] == url
    assert versions_of("almalinux_ci", definition)[version] == ("Succeeded", url)


def test_dry_run_writes_nothing(stack: LocalStack) -> None:
    url = put_raw(stack, "AlmaLinux-9-Azure-9.6-20250603.0.x86_64.raw")
    before = snapshot(stack)
    status = run_job(stack, {"image_url": url})  # dry_run defaults to true
    assert status["runtime_status"] == "Completed"
    assert status["output"]["outcome"] == "dry_run"
    assert "- Would create: 'almalinux_ci/almalinux-9-gen2/9.6.2025060301'" in status["summary"]
    assert snapshot(stack) == before


def test_a_failed_region_fails_the_job_with_the_azure_error(stack: LocalStack) -> None:
    url = put_raw(stack, "AlmaLinux-9-Azure-9.6-20250604.0.aarch64.raw")
    stack.emulator.set_faults(fail_regions=["westus2"])
    try:
        status = run_job(stack, {"image_url": url, "dry_run": False})
    finally:
        stack.emulator.set_faults(fail_regions=[])
    assert status["runtime_status"] == "Failed"
    assert status["output"]["failed_step"] == "publish"
    assert "Failed at step **publish**" in status["summary"]
    assert "West US 2" in status["summary"]
    [outcome] = status["output"]["versions"]
    assert outcome["state"] == "Failed" and outcome["error_message"]


def test_a_throttled_gallery_is_waited_out_on_timers(stack: LocalStack) -> None:
    url = put_raw(stack, "AlmaLinux-9-Azure-9.6-20250605.0.aarch64.raw")
    stack.emulator.set_faults(throttle_every=3, throttle_retry_after=30)
    try:
        status = run_job(stack, {"image_url": url, "dry_run": False})
    finally:
        stack.emulator.set_faults(throttle_every=0)
    assert status["runtime_status"] == "Completed", status["summary"]
    child = f"{status['instance_id']}:almalinux-9-arm64"
    answers = activity_answers(stack, child)
    assert any(answer.get("status") == "retry" and answer.get("retry_after") == 30 for answer in answers)


def test_a_source_dropped_mid_stage_resumes_and_the_blob_is_exact(stack: LocalStack) -> None:
    url = put_raw(stack, "AlmaLinux-9-Azure-9.6-20250606.0.x86_64.raw")
    stack.source.set_faults(Faults(drop_at=9 * 1024 * 1024 + 1000))
    status = run_job(stack, {"image_url": url, "dry_run": False})
    assert status["runtime_status"] == "Completed", status["summary"]
    ranges = [r.range for r in stack.source.requests if r.path.endswith("20250606.0.x86_64.raw")]
    assert any(header and not header.startswith("bytes=0-") for header in ranges)
    download, content_md5 = blob_md5(stack.blobs, status["output"]["plan"]["blob_url"])
    assert download == content_md5 == status["output"]["staged"]["md5"]


def test_http_starter_refuses_bad_requests_with_400(stack: LocalStack) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"image_url": "https://evil.example/AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw"}, "not allowed"),
        ({"image_url": stack.raw_url("not-an-image.qcow2")}, "Could not parse filename"),
        ({"image_url": stack.raw_url("AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw"), "dry_run": "no"}, "must be a bool"),
        ({"image_url": stack.raw_url("AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw"), "force": True}, "unknown field"),
    ]  # fmt: skip
    for body, reason in cases:
        response = post(stack, body)
        assert response.status_code == 400
        assert reason in response.json()["error"]


def test_the_same_job_twice_at_once_is_one_job(stack: LocalStack) -> None:
    url = put_raw(stack, "AlmaLinux-9-Azure-9.6-20250607.0.aarch64.raw")
    first = post(stack, {"image_url": url, "dry_run": False})
    second = post(stack, {"image_url": url, "dry_run": False})
    assert first.status_code == 202
    assert second.status_code == 409
    assert second.json()["instance_id"] == first.json()["instance_id"]
    assert second.json()["status_url"].endswith(f"/api/publish/{first.json()['instance_id']}")
    stack.runner.wait_for(first.json()["instance_id"], 90)


def test_unknown_job_status_is_404(stack: LocalStack) -> None:
    import requests

    unknown = "publish-almalinux_ci-AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw-0123456789ab"
    response = requests.get(
        f"{stack.runner.origin}/api/publish/{unknown}", headers=key_header(stack), timeout=10
    )
    assert response.status_code == 404
    # An id of a shape no starter makes never reaches the Durable API.
    response = requests.get(
        f"{stack.runner.origin}/api/publish/no-such-job", headers=key_header(stack), timeout=10
    )
    assert response.status_code == 400


def test_staging_progress_is_visible_while_it_runs(stack: LocalStack) -> None:
    url = put_raw(stack, "AlmaLinux-9-Azure-9.6-20250609.0.aarch64.raw")
    stack.source.set_faults(Faults(stall_at=12 * 1024 * 1024, stall_seconds=3))
    started = post(stack, {"image_url": url, "dry_run": False})
    assert started.status_code == 202
    instance_id = started.json()["instance_id"]
    seen: list[str] = []
    deadline = time.monotonic() + 30
    while not any(line.startswith("staging: ") for line in seen):
        assert time.monotonic() < deadline, seen
        seen = job_status(stack, instance_id)["progress"]
        time.sleep(0.05)
    [line] = [line for line in seen if line.startswith("staging: ")]
    assert re.fullmatch(r"staging: \d+ of 24 MiB read \(\d+%\)", line), line
    final = stack.runner.wait_for(instance_id, 60)
    assert final.runtime_status.value == "Completed"
    # The progress key is gone once the blob is complete.
    blob_name = final.output["result"]["plan"]["blob_name"]
    metadata = stack.blobs.get_blob_client("9-arm64", blob_name).get_blob_properties().metadata
    assert "staged_bytes" not in metadata and metadata["md5"]


def test_the_routes_refuse_a_request_without_the_function_key(stack: LocalStack) -> None:
    import requests

    body = {"image_url": "https://example.org/AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw"}
    for headers in ({}, {"x-functions-key": "wrong"}):
        assert (
            requests.post(
                f"{stack.runner.origin}/api/publish", json=body, headers=headers, timeout=10
            ).status_code
            == 401
        )
        assert (
            requests.get(f"{stack.runner.origin}/api/publish/x", headers=headers, timeout=10).status_code
            == 401
        )
    assert post(stack, {"image_url": "not a url"}).status_code == 400  # with the key: the app answers


def test_a_qcow2_made_from_the_sample_image_publishes_end_to_end(stack: LocalStack, tmp_path: Path) -> None:
    sample = build_sample_raw(tmp_path / "sample.raw")
    name = "AlmaLinux-9-Azure-9.6-20250611.0.x86_64.qcow2"
    image = stack.raw_path(name)
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", sample, image], check=True)
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    stack.raw_path(name + ".sha256sum").write_text(f"{digest}  {name}\n")
    status = run_job(stack, {"image_url": stack.raw_url(name), "dry_run": False}, timeout=240)
    assert status["runtime_status"] == "Completed", status["summary"]
    blob_url = status["output"]["plan"]["blob_url"]
    assert blob_url.endswith("/9-default/almalinux-9.6-x86_64.20250611-01.vhd")
    assert f"Source verified: ✅ SHA-256 `{digest}`" in status["summary"]
    for definition in ("almalinux-9-gen1", "almalinux-9-gen2"):
        assert versions_of("almalinux_ci", definition)["9.6.2025061101"] == ("Succeeded", blob_url)
    download, content_md5 = blob_md5(stack.blobs, blob_url)
    assert download == content_md5 == status["output"]["staged"]["md5"]
    staged = stack.blobs.get_blob_client("9-default", blob_url.rsplit("/", 1)[-1]).download_blob().readall()
    assert staged == with_identity_of(qemu_vhd(sample, tmp_path), staged)
