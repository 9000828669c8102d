"""Re-running a request is safe: after success nothing new is made; after a failure at any step the
job resumes under the same upload index, and nothing is duplicated."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from activities.services import app_services
from local.stack import LocalStack, StackOptions, local_stack
from tests.support.app_support import job_status, key_header, put_raw, put_vhd_blob, run_job
from tests.support.integrity import check_integrity

TIME_SCALE = 0.002


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    options = StackOptions(workdir=tmp_path_factory.mktemp("stack"), time_scale=TIME_SCALE, region_seconds=60)
    with local_stack(options) as running:
        yield running
        check_integrity(running)


def blobs_in(stack: LocalStack, container: str) -> list[str]:
    return sorted(stack.blobs.get_container_client(container).list_blob_names())


def versions_of(definition: str) -> list[tuple[str, str | None]]:
    return sorted(
        (v.name, v.provisioning_state)
        for v in app_services().gallery.list_versions("almalinux_ci", definition)
    )


def test_after_success_nothing_new_is_made(stack: LocalStack) -> None:
    body = {"image_url": put_raw(stack, "AlmaLinux-9-Azure-9.6-20251001.0.x86_64.raw"), "dry_run": False}
    first = run_job(stack, body)
    assert first["runtime_status"] == "Completed", first["summary"]
    blobs, gen1, gen2 = (
        blobs_in(stack, "9-default"),
        versions_of("almalinux-9-gen1"),
        versions_of("almalinux-9-gen2"),
    )
    again = run_job(stack, body)
    assert again["runtime_status"] == "Completed", again["summary"]
    assert again["output"]["staged"]["reused"] is True
    assert [v["state"] for v in again["output"]["versions"]] == ["AlreadyPublished", "AlreadyPublished"]
    assert (
        "- Already published: 'almalinux_ci/almalinux-9-gen1/9.6.2025100101' (nothing to do)"
        in again["summary"]
    )
    assert (
        blobs_in(stack, "9-default"),
        versions_of("almalinux-9-gen1"),
        versions_of("almalinux-9-gen2"),
    ) == (blobs, gen1, gen2)


def test_after_a_failure_at_plan(stack: LocalStack) -> None:
    body = {"image_url": put_raw(stack, "AlmaLinux-9-Azure-9.6-20251002.0.aarch64.raw"), "dry_run": False}
    stack.emulator.set_faults(server_error_every=1)  # the gallery answers nothing but 503
    try:
        failed = run_job(stack, body)
    finally:
        stack.emulator.set_faults(server_error_every=0)
    assert failed["runtime_status"] == "Failed" and "Failed at step **plan**" in failed["summary"]
    assert not [b for b in blobs_in(stack, "9-arm64") if "20251002" in b]
    done = run_job(stack, body)
    assert done["runtime_status"] == "Completed", done["summary"]
    assert ("9.6.2025100201", "Succeeded") in versions_of("almalinux-9-arm64")


def test_after_a_failure_at_stage_the_same_blob_is_finished(stack: LocalStack) -> None:
    name = "AlmaLinux-9-Azure-9.6-20251003.0.aarch64.raw"
    body = {"image_url": put_raw(stack, name), "dry_run": False}
    checksum = stack.raw_path(f"{name}.sha256sum")
    checksum.write_text(f"{'0' * 64}  {name}\n")  # a wrong published checksum fails the stage
    failed = run_job(stack, body)
    assert failed["runtime_status"] == "Failed" and "Failed at step **stage**" in failed["summary"]
    assert [b for b in blobs_in(stack, "9-arm64") if "20251003" in b] == [
        "almalinux-9.6-arm64.20251003-01.vhd"
    ]
    checksum.write_text(f"{hashlib.sha256(stack.raw_path(name).read_bytes()).hexdigest()}  {name}\n")
    done = run_job(stack, body)
    assert done["runtime_status"] == "Completed", done["summary"]
    assert [b for b in blobs_in(stack, "9-arm64") if "20251003" in b] == [
        "almalinux-9.6-arm64.20251003-01.vhd"
    ]
    assert [v for v in versions_of("almalinux-9-arm64") if v[0].startswith("9.6.20251003")] == [
        ("9.6.2025100301", "Succeeded")
    ]


def test_after_a_failure_at_publish_the_failed_version_is_replaced(stack: LocalStack) -> None:
    body = {"image_url": put_raw(stack, "AlmaLinux-9-Azure-9.6-20251004.0.aarch64.raw"), "dry_run": False}
    stack.emulator.set_faults(fail_regions=["eastus"])
    try:
        failed = run_job(stack, body)
    finally:
        stack.emulator.set_faults(fail_regions=[])
    assert failed["runtime_status"] == "Failed" and "Failed at step **publish**" in failed["summary"]
    assert ("9.6.2025100401", "Failed") in versions_of("almalinux-9-arm64")
    done = run_job(stack, body)
    assert done["runtime_status"] == "Completed", done["summary"]
    assert done["output"]["staged"]["reused"] is True
    assert [v for v in versions_of("almalinux-9-arm64") if v[0].startswith("9.6.20251004")] == [
        ("9.6.2025100401", "Succeeded")
    ]
    assert [b for b in blobs_in(stack, "9-arm64") if "20251004" in b] == [
        "almalinux-9.6-arm64.20251004-01.vhd"
    ]


def test_after_a_failure_at_validate(stack: LocalStack) -> None:
    url = f"{stack.azurite.blob_endpoint}/8-default/almalinux-8.10-x86_64.20251005-02.vhd"
    failed = run_job(stack, {"image_url": url, "dry_run": False})
    assert failed["runtime_status"] == "Failed" and "Failed at step **validate**" in failed["summary"]
    assert "does not exist" in failed["summary"]
    assert put_vhd_blob(stack, "8-default", "almalinux-8.10-x86_64.20251005-02.vhd") == url
    done = run_job(stack, {"image_url": url, "dry_run": False})
    assert done["runtime_status"] == "Completed", done["summary"]
    assert ("8.10.2025100502", "Succeeded") in versions_of("almalinux-8-gen2")


def test_a_raw_reuploaded_at_the_same_url_takes_the_next_upload_index(stack: LocalStack) -> None:
    name = "AlmaLinux-9-Azure-9.6-20251006.0.x86_64.raw"
    body = {"image_url": put_raw(stack, name), "dry_run": False}
    first = run_job(stack, body)
    assert first["runtime_status"] == "Completed", first["summary"]
    put_raw(stack, name, seed=9)  # new bytes at the same URL: a new ETag
    again = run_job(stack, body)
    assert again["runtime_status"] == "Completed", again["summary"]
    assert again["output"]["staged"]["reused"] is False
    assert [b for b in blobs_in(stack, "9-default") if "20251006" in b] == [
        "almalinux-9.6-x86_64.20251006-01.vhd",
        "almalinux-9.6-x86_64.20251006-02.vhd",
    ]
    assert [v for v in versions_of("almalinux-9-gen1") if v[0].startswith("9.6.20251006")] == [
        ("9.6.2025100601", "Succeeded"),
        ("9.6.2025100602", "Succeeded"),
    ]


def test_a_ci_and_a_public_job_for_one_raw_at_once_stage_it_once(stack: LocalStack) -> None:
    """Two jobs (two instance ids) plan the same blob; one stages it, the other waits on the blob's
    lease and reuses it: the blob is whole, and both galleries get versions made from it."""
    name = "AlmaLinux-9-Azure-9.6-20251007.0.x86_64.raw"
    url = put_raw(stack, name)
    with ThreadPoolExecutor(2) as pool:
        jobs = [
            pool.submit(run_job, stack, {"image_url": url, "dry_run": False, "public_gallery": public})
            for public in (False, True)
        ]
        done = [job.result() for job in jobs]
    assert [d["runtime_status"] for d in done] == ["Completed", "Completed"], [d["summary"] for d in done]
    assert sorted(d["output"]["staged"]["reused"] for d in done) == [False, True]
    assert [b for b in blobs_in(stack, "9-default") if "20251007" in b] == [
        "almalinux-9.6-x86_64.20251007-01.vhd"
    ]
    # check_integrity (at the end of the module) downloads the blob and checks it against its MD5.


def test_every_run_keeps_its_own_record_and_a_later_dry_run_erases_nothing(stack: LocalStack) -> None:
    body = {"image_url": put_raw(stack, "AlmaLinux-9-Azure-9.6-20251008.0.x86_64.raw"), "dry_run": False}
    published = run_job(stack, body)
    assert published["runtime_status"] == "Completed", published["summary"]
    dry = run_job(stack, {**body, "dry_run": True})
    job_id = published["instance_id"]
    assert dry["instance_id"] == f"{job_id}-run2"
    # The publication's record is still there, whole.
    assert job_status(stack, job_id)["output"]["outcome"] == "published"
    assert job_status(stack, f"{job_id}-run2")["output"]["outcome"] == "dry_run"
    runs = requests.get(
        f"{stack.runner.origin}/api/publish/{job_id}-run2/runs", headers=key_header(stack), timeout=30
    ).json()
    assert runs["job_id"] == job_id
    assert [(r["instance_id"], r["outcome"]) for r in runs["runs"]] == [
        (job_id, "published"),
        (f"{job_id}-run2", "dry_run"),
    ]
    third = run_job(stack, body)
    assert third["instance_id"] == f"{job_id}-run3" and third["output"]["staged"]["reused"] is True
