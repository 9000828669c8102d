"""The fault matrix of the README: each fault injected into a whole job on the local stack.

For each, the job completes, or fails with a clear reason; and afterwards every blob is complete
and correct or visibly incomplete, and no gallery version points at an incomplete or wrong blob.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from local.flaky_proxy import PutPageFaults
from local.source_server import Faults
from local.stack import LocalStack, StackOptions, local_stack
from tests.support.app_support import RAW_SIZE, blob_md5, put_raw, run_job
from tests.support.integrity import check_integrity

TIME_SCALE = 0.002


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    options = StackOptions(
        workdir=tmp_path_factory.mktemp("stack"), time_scale=TIME_SCALE, flaky_storage=True
    )
    with local_stack(options) as running:
        yield running


VERIFIED: dict[str, str] = {}  # blobs already checked, by ETag


@pytest.fixture(autouse=True)
def integrity_after_each_fault(stack: LocalStack) -> Iterator[None]:
    yield
    stack.source.set_faults(Faults())
    assert stack.storage_proxy is not None
    stack.storage_proxy.set_faults(PutPageFaults())
    stack.emulator.set_faults(
        fail_regions=[], throttle_every=0, fail_provisioning=False, server_error_every=0
    )
    check_integrity(stack)


def _published(status: dict[str, object]) -> None:
    assert status["runtime_status"] == "Completed", status["summary"]
    output = status["output"]
    assert isinstance(output, dict) and output["outcome"] == "published"


@pytest.mark.parametrize("seed", range(10))
def test_source_dropped_at_a_random_offset(stack: LocalStack, seed: int) -> None:
    offset = random.Random(seed).randrange(1, RAW_SIZE - 1)
    url = put_raw(stack, f"AlmaLinux-9-Azure-9.6-202508{seed + 10:02d}.0.aarch64.raw", seed=seed)
    stack.source.set_faults(Faults(drop_at=offset))
    status = run_job(stack, {"image_url": url, "dry_run": False})
    _published(status)
    download, content_md5 = blob_md5(stack.blobs, status["output"]["plan"]["blob_url"])
    assert download == content_md5 == status["output"]["staged"]["md5"]


def test_source_answers_503_then_recovers(stack: LocalStack) -> None:
    url = put_raw(stack, "AlmaLinux-9-Azure-9.6-20250901.0.aarch64.raw")
    stack.source.set_faults(Faults(server_errors=3, error_status=503))
    _published(run_job(stack, {"image_url": url, "dry_run": False}))


def test_put_page_fails_intermittently(stack: LocalStack) -> None:
    assert stack.storage_proxy is not None
    url = put_raw(stack, "AlmaLinux-9-Azure-9.6-20250902.0.x86_64.raw")
    stack.storage_proxy.set_faults(PutPageFaults(fail_every=3))
    failed_before = stack.storage_proxy.failed
    _published(run_job(stack, {"image_url": url, "dry_run": False}))
    assert stack.storage_proxy.failed > failed_before


def test_put_page_connection_dropped(stack: LocalStack) -> None:
    assert stack.storage_proxy is not None
    url = put_raw(stack, "AlmaLinux-9-Azure-9.6-20250903.0.x86_64.raw")
    stack.storage_proxy.set_faults(PutPageFaults(fail_every=4, drop_connection=True))
    _published(run_job(stack, {"image_url": url, "dry_run": False}))


def test_a_429_storm_from_the_gallery(stack: LocalStack) -> None:
    url = put_raw(stack, "AlmaLinux-10-Azure-10.0-20250904.0.x86_64.raw")
    stack.emulator.set_faults(throttle_every=5, throttle_retry_after=20)
    _published(run_job(stack, {"image_url": url, "dry_run": False}))


def test_transient_gallery_errors(stack: LocalStack) -> None:
    url = put_raw(stack, "AlmaLinux-9-Azure-9.6-20250905.0.aarch64.raw")
    stack.emulator.set_faults(server_error_every=4)
    _published(run_job(stack, {"image_url": url, "dry_run": False}))


def test_one_failed_region_fails_the_job_clearly(stack: LocalStack) -> None:
    url = put_raw(stack, "AlmaLinux-9-Azure-9.6-20250906.0.x86_64.raw")
    stack.emulator.set_faults(fail_regions=["southeastasia"])
    status = run_job(stack, {"image_url": url, "dry_run": False})
    assert status["runtime_status"] == "Failed"
    assert "Failed at step **publish**" in status["summary"] and "Southeast Asia" in status["summary"]


def test_provisioning_failed_fails_the_job_clearly(stack: LocalStack) -> None:
    url = put_raw(stack, "AlmaLinux-9-Azure-9.6-20250907.0.aarch64.raw")
    stack.emulator.set_faults(fail_provisioning=True)
    status = run_job(stack, {"image_url": url, "dry_run": False})
    assert status["runtime_status"] == "Failed"
    assert status["output"]["failed_step"] == "publish"
    assert status["output"]["versions"][0]["error_message"]


def kill_staging_midway(stack: LocalStack, file_name: str, container: str, blob_name: str) -> None:
    """A worker dies mid-stage: the stage command runs against a source that stalls half way, and is
    killed (SIGKILL, no clean-up) once it has written pages. It leaves an unfinished blob behind."""
    url = stack.raw_url(file_name)
    stack.source.set_faults(Faults(stall_at=RAW_SIZE // 2, stall_seconds=30))
    env = {"AZURE_STORAGE_CONNECTION_STRING": stack.azurite.connection_string, "PATH": "/usr/bin:/bin"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "gallery_publisher", "stage", url, "--container", container, "--name", blob_name],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    blob = stack.blobs.get_blob_client(container, blob_name)
    deadline = time.monotonic() + 30
    while not (blob.exists() and any(blob.list_page_ranges())):
        assert time.monotonic() < deadline and worker.poll() is None
        time.sleep(0.05)
    worker.kill()
    worker.wait()
    stack.source.set_faults(Faults())
    assert not blob.get_blob_properties().content_settings.content_md5  # visibly incomplete


def test_staging_that_died_midway_is_redone_under_the_same_name(stack: LocalStack) -> None:
    file_name = "AlmaLinux-9-Azure-9.6-20250908.0.x86_64.raw"
    put_raw(stack, file_name)
    kill_staging_midway(stack, file_name, "9-default", "almalinux-9.6-x86_64.20250908-01.vhd")
    assert check_integrity(stack, VERIFIED).incomplete_blobs >= 1
    status = run_job(stack, {"image_url": stack.raw_url(file_name), "dry_run": False})
    _published(status)
    # The job recognised the unfinished blob as its own (same source) and finished it: same index.
    assert status["output"]["plan"]["blob_url"].endswith("/9-default/almalinux-9.6-x86_64.20250908-01.vhd")
