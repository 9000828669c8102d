"""A VHD announced by Event Grid before its pages are written (page blobs raise BlobCreated at
creation): the job waits on timers for the upload to finish, then publishes it. The local stack's
blob watcher plays Event Grid here, as it does for `make run`."""

from __future__ import annotations

import hashlib
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.storage.blob import ContentSettings

from activities.services import app_services
from gallery_publisher.staging import vhd
from local.stack import LocalStack, StackOptions, local_stack
from tests.support.app_support import RAW_REGIONS, RAW_SIZE
from tests.support.raw_images import MIB, write_sparse_raw


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    # 1000 s of settling is 2 s here (time scale 0.002): longer than the uploader's pauses below.
    settings = {
        "GALLERY_PUBLISHER_BLOB_TRIGGER_DRY_RUN": "false",
        "GALLERY_PUBLISHER_UPLOAD_SETTLE_SECONDS": "1000",
    }
    options = StackOptions(
        workdir=tmp_path_factory.mktemp("stack"),
        time_scale=0.002,
        region_seconds=60,
        settings=settings,
        watch_blobs=True,
    )
    with local_stack(options) as running:
        yield running


def test_the_job_waits_for_the_upload_to_finish(stack: LocalStack, tmp_path: Path) -> None:
    raw = write_sparse_raw(tmp_path / "disk.raw", RAW_SIZE, RAW_REGIONS)
    disk = raw + bytes(vhd.padded_disk_size(len(raw)) - len(raw))
    image = disk + vhd.build_footer(len(disk))
    blob = stack.blobs.get_blob_client("9-arm64", "almalinux-9.6-arm64.20251210-01.vhd")
    blob.create_page_blob(size=len(image))  # created: Event Grid fires now, nothing is written yet
    deadline = time.monotonic() + 10
    while not (jobs := [s for s in stack.runner.statuses() if s.name == "publish_image"]):
        assert time.monotonic() < deadline, "the blob watcher never started a job"
        time.sleep(0.1)
    [job] = jobs

    def finish_upload() -> None:
        for offset in range(0, len(image), 4 * vhd.MIB):
            blob.upload_page(
                image[offset : offset + 4 * vhd.MIB],
                offset=offset,
                length=min(4 * vhd.MIB, len(image) - offset),
            )
        blob.set_http_headers(ContentSettings(content_md5=bytearray(hashlib.md5(image).digest())))

    threading.Timer(1.0, finish_upload).start()  # the job must keep waiting for a while
    status = stack.runner.wait_for(job.instance_id, 60)
    assert status.runtime_status.value == "Completed", status.error
    validations = [
        e
        for e in stack.runner.history(job.instance_id)
        if e.get("EventType") == 4 and e.get("Name") == "validate_vhd"
    ]
    assert len(validations) > 1  # it looked before the upload ended, and again after
    versions = {
        v.name: v.provisioning_state
        for v in app_services().gallery.list_versions("almalinux_ci", "almalinux-9-arm64")
    }
    assert versions == {"9.6.2025121001": "Succeeded"}


def test_a_footer_written_first_does_not_end_the_upload_and_the_validated_bytes_are_held(
    stack: LocalStack, tmp_path: Path
) -> None:
    """A parallel uploader can write the last page (the footer) before middle pages: the job waits
    until the blob stops changing, then publishes from a lease-held blob whose snapshot is the
    whole image."""
    raw = write_sparse_raw(tmp_path / "disk.raw", RAW_SIZE, RAW_REGIONS, seed=5)
    disk = raw + bytes(vhd.padded_disk_size(len(raw)) - len(raw))
    image = disk + vhd.build_footer(len(disk))
    blob = stack.blobs.get_blob_client("9-arm64", "almalinux-9.6-arm64.20251211-01.vhd")
    blob.create_page_blob(size=len(image))
    last_page = (len(image) - 1) // MIB * MIB
    blob.upload_page(image[last_page:], offset=last_page, length=len(image) - last_page)  # footer first
    deadline = time.monotonic() + 10
    while not (
        jobs := [
            s for s in stack.runner.statuses() if s.name == "publish_image" and "20251211" in s.instance_id
        ]
    ):
        assert time.monotonic() < deadline, "the blob watcher never started a job"
        time.sleep(0.1)
    [job] = jobs
    for offset in range(0, last_page, MIB):  # the middle pages, with pauses
        if any(image[offset : offset + MIB]):
            blob.upload_page(image[offset : offset + MIB], offset=offset, length=MIB)
            time.sleep(0.5)
    status = stack.runner.wait_for(job.instance_id, 60)
    assert status.runtime_status.value == "Completed", status.error
    staged = status.output["result"]["staged"]
    snapshot = stack.blobs.get_blob_client("9-arm64", blob.blob_name, snapshot=staged["snapshot"])
    assert hashlib.md5(snapshot.download_blob().readall()).hexdigest() == hashlib.md5(image).hexdigest()
    assert blob.get_blob_properties().lease.state == "available"  # released when the job ended


def test_a_dynamic_vhd_uploaded_as_a_page_blob_is_staged_as_a_fixed_copy(
    stack: LocalStack, tmp_path: Path
) -> None:
    """The blob starter reads a page blob's head when it is created, before its pages are written:
    zeros, so it cannot tell a dynamic VHD. Once the upload has settled, the job finds the dynamic
    footer and stages a fixed copy under the next upload index, as for a dynamic VHD seen at once."""
    raw = tmp_path / "disk.raw"
    data = write_sparse_raw(raw, RAW_SIZE, RAW_REGIONS, seed=7)
    dynamic = tmp_path / "dynamic.vhd"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vpc", "-o", "subformat=dynamic,force_size", raw, dynamic],
                   check=True)  # fmt: skip
    image = dynamic.read_bytes()
    image += bytes(-len(image) % 512)  # a page blob is whole pages; the footer copy leads the file
    blob = stack.blobs.get_blob_client("9-arm64", "almalinux-9.6-arm64.20251212-01.vhd")
    blob.create_page_blob(size=len(image))  # Event Grid fires now: the starter reads zeros
    deadline = time.monotonic() + 10
    while not (
        jobs := [
            s for s in stack.runner.statuses() if s.name == "publish_image" and "20251212" in s.instance_id
        ]
    ):
        assert time.monotonic() < deadline, "the blob watcher never started a job"
        time.sleep(0.1)
    [job] = jobs
    for offset in range(0, len(image), 4 * MIB):
        page = image[offset : offset + 4 * MIB]
        if any(page):
            blob.upload_page(page, offset=offset, length=len(page))
    status = stack.runner.wait_for(job.instance_id, 60)
    assert status.runtime_status.value == "Completed", status.error
    plan = status.output["result"]["plan"]
    assert (plan["source_kind"], plan["blob_name"]) == ("raw", "almalinux-9.6-arm64.20251212-02.vhd")
    copy = stack.blobs.get_blob_client("9-arm64", plan["blob_name"]).download_blob().readall()
    disk = vhd.padded_disk_size(len(data))
    assert copy[: len(data)] == data and copy[len(data) : disk] == bytes(disk - len(data))
    assert vhd.check_fixed_vhd(len(copy), copy[-512:]).disk_size == disk
    assert blob.download_blob().readall() == image  # the dropped blob is left as it was
