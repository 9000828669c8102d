"""Staging a RAW source as a fixed VHD page blob, against real Azurite and a real HTTP source."""

from __future__ import annotations

import hashlib
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.pipeline.transport import HttpRequest, HttpResponse
from azure.storage.blob import BlobProperties, BlobServiceClient, ContainerClient

from gallery_publisher.source.reader import RetryPolicy, SourceError, open_source
from gallery_publisher.staging import storage, vhd
from gallery_publisher.staging.blob_lease import BlobBusyError
from gallery_publisher.staging.stager import (
    MAX_PAGE_BLOB,
    MAX_PUT_PAGE,
    MAX_RAW_SIZE,
    StageOptions,
    StageProgress,
    StagingDeadlineError,
    StagingError,
    check_limits,
    stage_source,
)
from gallery_publisher.staging.vhd_blob import VhdBlobError, validate_vhd_blob
from local.azurite import Azurite
from local.source_server import Faults, SourceServer
from tests.support.raw_images import MIB, RecordingTransport, merged, new_container, write_sparse_raw

FAST = RetryPolicy(attempts=3, first_backoff=0.01, stall_timeout=0.3)
SECRET = "?X-Amz-Signature=s3cr3t"
# 21 MiB + 3 sectors: not a whole MiB, so padding is exercised. Data straddles chunk boundaries.
RAW_SIZE = 21 * MIB + 1536
REGIONS = [(0, 4096), (3 * MIB + 512, 2 * MIB), (12 * MIB, 512), (21 * MIB + 1024, 512)]


@pytest.fixture
def recorder() -> RecordingTransport:
    return RecordingTransport()


@pytest.fixture
def container(azurite: Azurite, recorder: RecordingTransport) -> ContainerClient:
    service = BlobServiceClient.from_connection_string(azurite.connection_string, transport=recorder)
    return new_container(service)


@pytest.fixture
def raw(tmp_path: Path) -> tuple[Path, bytes]:
    path = tmp_path / "served" / "images" / "AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw"
    path.parent.mkdir(parents=True)
    return path, write_sparse_raw(path, RAW_SIZE, REGIONS)


@pytest.fixture
def server(raw: tuple[Path, bytes]) -> Iterator[SourceServer]:
    with SourceServer(raw[0].parent.parent) as running:
        yield running


def source_url(server: SourceServer, raw: tuple[Path, bytes]) -> str:
    return server.url_for(f"images/{raw[0].name}")


def qemu_vhd(raw_path: Path, tmp_path: Path) -> bytes:
    """The old pipeline's VHD: resize to the MiB, then qemu-img's fixed vpc."""
    copy, out = tmp_path / "copy.raw", tmp_path / "reference.vhd"
    subprocess.run(["cp", "--sparse=always", raw_path, copy], check=True)
    padded = vhd.padded_disk_size(copy.stat().st_size)
    subprocess.run(["qemu-img", "resize", "-f", "raw", copy, str(padded)], check=True, capture_output=True)
    subprocess.run(
        ["qemu-img", "convert", "-f", "raw", "-O", "vpc", "-o", "subformat=fixed,force_size", copy, out],
        check=True,
    )
    return out.read_bytes()


def with_identity_of(reference: bytes, ours: bytes) -> bytes:
    """`reference` with our footer's timestamp and UUID, its checksum recomputed independently."""
    footer = bytearray(reference[-512:])
    footer[24:28] = ours[-512 + 24 : -512 + 28]
    footer[68:84] = ours[-512 + 68 : -512 + 84]
    footer[64:68] = bytes(4)
    footer[64:68] = (~sum(footer) & 0xFFFFFFFF).to_bytes(4, "big")
    return reference[:-512] + bytes(footer)


def content_md5(properties: BlobProperties) -> str:
    md5 = properties.content_settings.content_md5
    assert md5 is not None
    return bytes(md5).hex()


def data_pages_by_chunk(image: bytes, disk_size: int, chunk: int) -> list[tuple[int, int]]:
    """The Put Page ranges expected: per chunk with data, from the page of its first non-zero byte
    to the end of the page of its last (inclusive ends, as the service reports them)."""
    padded = image + bytes(disk_size - len(image))
    ranges = []
    for start in range(0, disk_size, chunk):
        piece = padded[start : start + chunk]
        if any(piece):
            first = len(piece) - len(piece.lstrip(b"\0"))
            last = len(piece.rstrip(b"\0")) - 1
            ranges.append((start + first // 512 * 512, start + (last // 512 + 1) * 512 - 1))
    return ranges


@pytest.mark.parametrize("chunk_size", [MAX_PUT_PAGE, MIB, 64 * 1024])
def test_staged_blob_is_qemu_imgs_vhd_with_md5_and_only_nonzero_pages(
    container: ContainerClient,
    server: SourceServer,
    raw: tuple[Path, bytes],
    recorder: RecordingTransport,
    tmp_path: Path,
    chunk_size: int,
) -> None:
    blob = container.get_blob_client("staged.vhd")
    seen: list[StageProgress] = []
    with open_source(source_url(server, raw) + SECRET, policy=FAST) as source:
        result = stage_source(source, blob, options=StageOptions(chunk_size=chunk_size), progress=seen.append)

    downloaded = blob.download_blob().readall()
    assert downloaded == with_identity_of(qemu_vhd(raw[0], tmp_path), downloaded)
    properties = blob.get_blob_properties()
    assert properties.blob_type == "PageBlob"
    assert content_md5(properties) == hashlib.md5(downloaded).hexdigest()
    assert result.md5 == hashlib.md5(downloaded).hexdigest()
    assert properties.content_settings.content_type == "application/octet-stream"
    assert properties.metadata == {
        "source_url": source_url(server, raw),
        "source_size": str(RAW_SIZE),
        "source_etag": requests.head(source_url(server, raw), timeout=5).headers["ETag"],
        "md5": result.md5,
        # SHA-256 of the RAW bytes only, not of the padding: what `sha256sum` says of the source.
        "source_sha256": hashlib.sha256(raw[1]).hexdigest(),
    }
    assert result.source_sha256 == hashlib.sha256(raw[1]).hexdigest()

    disk_size = vhd.padded_disk_size(RAW_SIZE)
    expected_pages = [*data_pages_by_chunk(raw[1], disk_size, chunk_size), (disk_size, disk_size + 511)]
    sent = recorder.put_pages()
    assert sorted(sent) == expected_pages
    assert sent[-1] == (disk_size, disk_size + 511), "the footer goes last"
    assert max(end - start + 1 for start, end in sent) <= min(chunk_size, MAX_PUT_PAGE)
    stored = [(r.start or 0, r.end or 0) for r in blob.list_page_ranges() if not r.cleared]
    assert merged(stored) == merged(expected_pages)

    data_pages = sum(end - start + 1 for start, end in expected_pages)
    assert result.uploaded_bytes == data_pages
    assert result.skipped_bytes == disk_size + 512 - data_pages
    assert (result.size, result.reused) == (disk_size + 512, False)
    assert result.blob_url == blob.url and "s3cr3t" not in str(properties.metadata)
    assert seen[-1] == StageProgress(RAW_SIZE, result.uploaded_bytes - 512, result.skipped_bytes, RAW_SIZE)
    assert [p.bytes_read for p in seen] == sorted(p.bytes_read for p in seen)


def test_content_md5_is_set_after_every_page_and_the_footer(
    container: ContainerClient, server: SourceServer, raw: tuple[Path, bytes], recorder: RecordingTransport
) -> None:
    with open_source(source_url(server, raw), policy=FAST) as source:
        stage_source(source, container.get_blob_client("order.vhd"))
    # Lease calls (acquire, renew, release) change no byte or property of the blob.
    writes = [
        (m, u, h)
        for m, u, h, _ in recorder.requests
        if m == "PUT" and "order.vhd" in u and "comp=lease" not in u
    ]
    md5_write = next(i for i, (_, _, h) in enumerate(writes) if "x-ms-blob-content-md5" in h)
    assert md5_write == len(writes) - 1
    assert "x-ms-blob-content-type" in writes[md5_write][2]


def test_local_file_source_stages_the_same_vhd(container: ContainerClient, raw: tuple[Path, bytes]) -> None:
    blob = container.get_blob_client("file.vhd")
    with open_source(str(raw[0])) as source:
        result = stage_source(source, blob)
    data = blob.download_blob().readall()
    assert data[:RAW_SIZE] == raw[1]
    assert data[RAW_SIZE:-512] == bytes(len(data) - 512 - RAW_SIZE)
    assert vhd.check_fixed_vhd(len(data), data[-512:]).disk_size == vhd.padded_disk_size(RAW_SIZE)
    assert result.md5 == hashlib.md5(data).hexdigest()


@pytest.mark.parametrize(
    "faults",
    [
        Faults(drop_at=5 * MIB + 777),
        Faults(stall_at=4 * MIB, stall_seconds=2.0),
        Faults(server_errors=2, drop_at=3 * MIB),
    ],
    ids=["drop", "stall", "5xx-then-drop"],
)
def test_source_faults_mid_staging_still_give_the_exact_vhd(
    container: ContainerClient, server: SourceServer, raw: tuple[Path, bytes], faults: Faults
) -> None:
    server.set_faults(faults)
    blob = container.get_blob_client("faulty.vhd")
    with open_source(source_url(server, raw), policy=FAST) as source:
        result = stage_source(source, blob)
    data = blob.download_blob().readall()
    assert data[:RAW_SIZE] == raw[1]
    assert result.md5 == hashlib.md5(data).hexdigest()
    assert any(r.status == 206 for r in server.requests), "the download resumed with a Range request"


def test_failed_put_pages_are_retried_with_backoff(azurite: Azurite, raw: tuple[Path, bytes]) -> None:
    flaky = RecordingTransport(fail_put_pages=3)
    service = BlobServiceClient.from_connection_string(
        azurite.connection_string, transport=flaky, retry_total=0
    )
    blob = new_container(service).get_blob_client("flaky.vhd")
    pauses: list[float] = []
    with open_source(str(raw[0])) as source:
        result = stage_source(source, blob, options=StageOptions(concurrency=1), sleep=pauses.append)
    assert flaky.fail_put_pages == 0
    assert pauses == [0.5, 1.0, 2.0]
    assert blob.download_blob().readall()[:RAW_SIZE] == raw[1]
    assert result.md5 == content_md5(blob.get_blob_properties())


def test_put_page_that_keeps_failing_leaves_an_incomplete_blob(
    azurite: Azurite, raw: tuple[Path, bytes]
) -> None:
    service = BlobServiceClient.from_connection_string(
        azurite.connection_string, transport=RecordingTransport(fail_put_pages=100), retry_total=0
    )
    blob = new_container(service).get_blob_client("broken.vhd")
    with open_source(str(raw[0])) as source, pytest.raises(StagingError, match="failed after 5 attempt"):
        stage_source(source, blob, sleep=lambda _: None)
    state = storage.blob_state(blob)
    assert state is not None and not state.complete


def test_rerun_of_a_complete_blob_reuses_it(
    container: ContainerClient, server: SourceServer, raw: tuple[Path, bytes], recorder: RecordingTransport
) -> None:
    blob = container.get_blob_client("again.vhd")
    with open_source(source_url(server, raw), policy=FAST) as source:
        first = stage_source(source, blob)
    etag = blob.get_blob_properties().etag
    recorder.requests.clear()
    with open_source(source_url(server, raw) + SECRET, policy=FAST) as source:
        second = stage_source(source, blob)
    assert second.reused and (second.blob_url, second.md5, second.size) == (
        first.blob_url,
        first.md5,
        first.size,
    )
    assert (second.uploaded_bytes, second.skipped_bytes) == (0, 0)
    assert blob.get_blob_properties().etag == etag
    assert [m for m, *_ in recorder.requests if m == "PUT"] == []


def test_incomplete_blob_looks_incomplete_and_a_rerun_restarts_it(
    container: ContainerClient, server: SourceServer, raw: tuple[Path, bytes]
) -> None:
    blob = container.get_blob_client("interrupted.vhd")
    # The source dies for good after 5 MiB: staging fails midway.
    server.set_faults(Faults(drop_at=5 * MIB, server_errors=0))
    with (
        open_source(source_url(server, raw), policy=RetryPolicy(attempts=1)) as source,
        pytest.raises(SourceError, match="failed 1 times"),
    ):
        stage_source(source, blob)
    state = storage.blob_state(blob)
    assert state is not None and not state.complete and state.content_md5 is None
    assert storage.find_blobs_from_source(container, source_url(server, raw))[0].complete is False
    with pytest.raises(VhdBlobError, match="incomplete"):
        validate_vhd_blob(blob)

    with open_source(source_url(server, raw), policy=FAST) as source:
        result = stage_source(source, blob)
    data = blob.download_blob().readall()
    assert not result.reused and result.md5 == hashlib.md5(data).hexdigest()
    assert data[:RAW_SIZE] == raw[1]
    assert validate_vhd_blob(blob).content_md5 == result.md5


def test_complete_blob_from_another_source_is_not_overwritten(
    container: ContainerClient, server: SourceServer, raw: tuple[Path, bytes], tmp_path: Path
) -> None:
    blob = container.get_blob_client("taken.vhd")
    with open_source(source_url(server, raw), policy=FAST) as source:
        first = stage_source(source, blob)
    other = tmp_path / "other.raw"
    write_sparse_raw(other, 2 * MIB, [(0, 512)], seed=7)
    with open_source(str(other)) as source, pytest.raises(StagingError, match="refusing to overwrite"):
        stage_source(source, blob)
    assert content_md5(blob.get_blob_properties()) == first.md5


def test_storage_lists_names_and_finds_blobs_from_a_source(
    container: ContainerClient, server: SourceServer, raw: tuple[Path, bytes]
) -> None:
    with open_source(source_url(server, raw), policy=FAST) as source:
        result = stage_source(source, container.get_blob_client("almalinux-9.6-x86_64.20250522-01.vhd"))
    container.upload_blob("almalinux-9.6-x86_64.20250522-02.vhd", b"x")
    container.upload_blob("almalinux-9.6-x86_64.20250523-01.vhd", b"x")
    assert storage.list_blob_names(container, "almalinux-9.6-x86_64.20250522-") == [
        "almalinux-9.6-x86_64.20250522-01.vhd",
        "almalinux-9.6-x86_64.20250522-02.vhd",
    ]
    found = storage.find_blobs_from_source(container, source_url(server, raw) + SECRET)
    assert [(b.name, b.complete, b.md5, b.url) for b in found] == [
        ("almalinux-9.6-x86_64.20250522-01.vhd", True, result.md5, result.blob_url)
    ]
    assert storage.find_blobs_from_source(container, server.url_for("images/other.raw")) == []


def test_raw_over_1023_gib_is_refused_before_any_write(container: ContainerClient, tmp_path: Path) -> None:
    huge = tmp_path / "huge.raw"
    with huge.open("wb") as out:
        out.truncate(MAX_RAW_SIZE + 512)
    blob = container.get_blob_client("huge.vhd")
    with open_source(str(huge)) as source, pytest.raises(StagingError, match="over Azure's 1023 GiB limit"):
        stage_source(source, blob)
    assert not blob.exists()


@pytest.mark.parametrize("chunk_size", [MAX_PUT_PAGE + 512, 1000, 0])
def test_chunks_azure_would_refuse_are_refused(chunk_size: int) -> None:
    with pytest.raises(StagingError, match="chunk size"):
        check_limits(MIB, chunk_size)


def test_largest_accepted_raw_stays_within_the_page_blob_limit() -> None:
    assert check_limits(MAX_RAW_SIZE, MAX_PUT_PAGE) <= MAX_PAGE_BLOB


class SlowPutPages(RecordingTransport):
    """Put Page answers slowly, so the reader runs ahead and meets the buffer's bound."""

    def send(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        if "comp=page" in request.url:
            time.sleep(0.02)
        return super().send(request, **kwargs)


def test_chunks_held_in_memory_never_exceed_the_buffer(azurite: Azurite, tmp_path: Path) -> None:
    chunk = 64 * 1024
    raw = tmp_path / "dense.raw"
    write_sparse_raw(raw, MIB, [(0, MIB)])
    service = BlobServiceClient.from_connection_string(azurite.connection_string, transport=SlowPutPages())
    blob = new_container(service).get_blob_client("bounded.vhd")
    held: list[int] = []

    def watch(progress: StageProgress) -> None:
        held.append(progress.bytes_read - progress.bytes_skipped - progress.bytes_uploaded)

    options = StageOptions(chunk_size=chunk, concurrency=1, buffered_chunks=3)
    with open_source(str(raw)) as source:
        stage_source(source, blob, options=options, progress=watch)
    assert max(held) == 3 * chunk
    assert blob.download_blob().readall()[:MIB] == raw.read_bytes()


def test_two_jobs_staging_one_source_share_one_staging(
    container: ContainerClient, server: SourceServer, raw: tuple[Path, bytes]
) -> None:
    """A CI and a public job for one image plan the same blob: one writes it, the other waits on the
    blob's lease (real Azurite leases) and reuses the result; the bytes are never mixed."""
    blob = container.get_blob_client("shared.vhd")
    first_is_writing = threading.Event()

    def slowly(_: StageProgress) -> None:
        first_is_writing.set()
        time.sleep(0.02)  # keeps the first staging running while the second arrives

    def stage(progress: Any = None) -> Any:
        with open_source(source_url(server, raw), policy=FAST) as source:
            return stage_source(source, blob, options=StageOptions(chunk_size=512 * 1024), progress=progress)

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(stage, slowly)
        assert first_is_writing.wait(30)
        second = pool.submit(stage)
        results = [first.result(timeout=120), second.result(timeout=120)]
    assert [result.reused for result in results] == [False, True]
    data = blob.download_blob().readall()
    assert hashlib.md5(data).hexdigest() == results[0].md5 == results[1].md5
    assert content_md5(blob.get_blob_properties()) == results[0].md5
    assert data[:RAW_SIZE] == raw[1]


def test_a_blob_another_job_keeps_leased_is_not_written_and_the_wait_is_bounded(
    container: ContainerClient, server: SourceServer, raw: tuple[Path, bytes]
) -> None:
    blob = container.get_blob_client("busy.vhd")
    url = source_url(server, raw)
    with open_source(url, policy=FAST) as source:
        blob.create_page_blob(size=MIB + 512, metadata={storage.SOURCE_URL: url, storage.SOURCE_SIZE: "1"})
        held = blob.acquire_lease(lease_duration=60)
        before = blob.get_blob_properties().etag
        with pytest.raises(BlobBusyError, match="being staged by another job"):
            stage_source(source, blob, options=StageOptions(deadline_seconds=1.5))
    assert blob.get_blob_properties().etag == before
    held.release()


def test_staging_past_its_deadline_fails_and_leaves_the_blob_incomplete(
    container: ContainerClient, server: SourceServer, raw: tuple[Path, bytes]
) -> None:
    blob = container.get_blob_client("late.vhd")
    with (
        open_source(source_url(server, raw), policy=FAST) as source,
        pytest.raises(StagingDeadlineError, match="did not finish within 0 minutes"),
    ):
        stage_source(source, blob, options=StageOptions(deadline_seconds=0.0))
    state = storage.blob_state(blob)
    assert state is not None and not state.complete
    assert blob.get_blob_properties().lease.state == "available"  # released on the way out
