"""Reading a RAW source once, front to back, through drops, stalls and server errors."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import lzma
import re
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import zstandard

from gallery_publisher.source import conversion
from gallery_publisher.source.conversion import ConversionError
from gallery_publisher.source.reader import RetryPolicy, SourceError, open_source
from gallery_publisher.urls import redact_url
from local.processes import free_port
from local.source_server import Faults, SourceServer
from tests.support.raw_images import MIB, write_sparse_raw

FAST = RetryPolicy(attempts=4, first_backoff=0.01, stall_timeout=0.3)
SECRET = "?X-Amz-Signature=s3cr3t"


@pytest.fixture
def image(tmp_path: Path) -> tuple[Path, bytes]:
    root = tmp_path / "served" / "bucket"
    root.mkdir(parents=True)
    path = root / "disk.raw"
    return path, write_sparse_raw(path, 6 * MIB + 4096, [(0, 4096), (MIB, 3 * MIB), (6 * MIB, 4096)])


@pytest.fixture
def server(image: tuple[Path, bytes]) -> Iterator[SourceServer]:
    with SourceServer(image[0].parent.parent) as running:
        yield running


def read_all(location: str, block: int = MIB // 2, policy: RetryPolicy = FAST) -> bytes:
    with open_source(location, policy=policy) as source:
        parts = []
        while data := source.read(block):
            parts.append(data)
        assert sum(map(len, parts)) == source.size
        return b"".join(parts)


def test_file_source_gives_every_byte_and_its_size(image: tuple[Path, bytes]) -> None:
    path, expected = image
    with open_source(str(path)) as source:
        assert source.size == len(expected)
        assert source.etag
        assert source.url == path.resolve().as_uri()
    assert read_all(str(path)) == expected


def test_http_source_gives_every_byte_length_and_etag(
    server: SourceServer, image: tuple[Path, bytes]
) -> None:
    with open_source(server.url_for("bucket/disk.raw") + SECRET) as source:
        assert source.size == len(image[1])
        assert source.etag and source.etag.startswith('"')
        assert source.url == server.url_for("bucket/disk.raw")
    assert read_all(server.url_for("bucket/disk.raw")) == image[1]


def test_dropped_connection_resumes_at_the_exact_offset(
    server: SourceServer, image: tuple[Path, bytes]
) -> None:
    drop = 3 * MIB + 12345
    server.set_faults(Faults(drop_at=drop))
    assert read_all(server.url_for("bucket/disk.raw")) == image[1]
    ranges = [r.range for r in server.requests if r.method == "GET"]
    assert ranges == [None, f"bytes={drop}-"]


def test_a_drop_is_reopened_at_once_and_only_failures_in_a_row_wait(
    server: SourceServer, image: tuple[Path, bytes]
) -> None:
    server.set_faults(Faults(drop_at=MIB))
    pauses: list[float] = []
    with open_source(
        server.url_for("bucket/disk.raw"), policy=RetryPolicy(first_backoff=5.0), sleep=pauses.append
    ) as source:
        assert source.read(len(image[1])) == image[1]
    assert pauses == []  # a resume does not wait out a backoff meant for a server that is down


def test_stalled_connection_is_dropped_and_resumed(server: SourceServer, image: tuple[Path, bytes]) -> None:
    server.set_faults(Faults(stall_at=2 * MIB, stall_seconds=3.0))
    assert read_all(server.url_for("bucket/disk.raw")) == image[1]
    assert [r.range for r in server.requests if r.method == "GET"] == [None, f"bytes={2 * MIB}-"]


def test_server_errors_are_retried_until_it_recovers(server: SourceServer, image: tuple[Path, bytes]) -> None:
    server.set_faults(Faults(server_errors=3, drop_at=MIB))
    assert read_all(server.url_for("bucket/disk.raw")) == image[1]
    statuses = [r.status for r in server.requests]
    assert statuses == [503, 503, 503, 200, 206]


def test_persistent_server_errors_give_up_without_leaking_the_query(server: SourceServer) -> None:
    server.set_faults(Faults(server_errors=100, error_status=500))
    with pytest.raises(SourceError, match="failed 4 times in a row") as failure:
        open_source(server.url_for("bucket/disk.raw") + SECRET, policy=FAST)
    assert "s3cr3t" not in str(failure.value)
    assert len(server.requests) == 4


def test_unreachable_source_gives_up_without_leaking_the_query() -> None:
    url = f"http://127.0.0.1:{free_port()}/bucket/disk.raw{SECRET}"
    with pytest.raises(SourceError, match="failed 4 times in a row") as failure:
        open_source(url, policy=FAST)
    assert "ConnectionError" in str(failure.value)
    assert "s3cr3t" not in str(failure.value)


def test_a_server_without_range_support_cannot_resume(server: SourceServer) -> None:
    server.set_faults(Faults(drop_at=MIB, ignore_range=True))
    with pytest.raises(SourceError, match="does not honour Range requests"):
        read_all(server.url_for("bucket/disk.raw"))


def test_missing_object_is_refused_with_the_status(server: SourceServer) -> None:
    with pytest.raises(SourceError, match="HTTP 404") as failure:
        open_source(server.url_for("bucket/absent.raw") + SECRET, policy=FAST)
    assert "s3cr3t" not in str(failure.value)


def test_source_without_a_length_is_refused(server: SourceServer) -> None:
    server.set_faults(Faults(omit_length=True))
    with pytest.raises(SourceError, match="no usable length"):
        open_source(server.url_for("bucket/disk.raw"), policy=FAST)


def test_missing_and_empty_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a file"):
        open_source(str(tmp_path / "absent.raw"))
    (tmp_path / "empty.raw").touch()
    with pytest.raises(SourceError, match="empty"):
        open_source(str(tmp_path / "empty.raw"))


def _qemu_image(tmp_path: Path, fmt: str, options: list[str]) -> tuple[Path, bytes]:
    raw = tmp_path / "base.raw"
    data = write_sparse_raw(raw, 2 * MIB, [(MIB, 4096)])
    out = tmp_path / f"image.{fmt}"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", fmt, *options, raw, out], check=True)
    return out, data


def _compressed(tmp_path: Path, kind: str) -> tuple[Path, bytes]:
    data = bytes(MIB) + b"data" * 1024 + bytes(MIB)
    path = tmp_path / f"disk.raw.{kind}"
    if kind == "xz":
        # Two concatenated streams, as pxz writes them.
        path.write_bytes(lzma.compress(data[:MIB]) + lzma.compress(data[MIB:]))
    elif kind == "gz":
        path.write_bytes(gzip.compress(data[:MIB]) + gzip.compress(data[MIB:]))
    else:
        path.write_bytes(zstandard.ZstdCompressor().compress(data))
    return path, data


FORMATS = ["xz", "gz", "zst", "qcow2", "vmdk", "vhdx", "vhd-dynamic"]


def _made(tmp_path: Path, kind: str) -> tuple[Path, bytes]:
    if kind in ("xz", "gz", "zst"):
        return _compressed(tmp_path, kind)
    if kind == "vhd-dynamic":
        return _qemu_image(tmp_path, "vpc", ["-o", "subformat=dynamic,force_size"])
    return _qemu_image(tmp_path, kind, [])


@pytest.mark.parametrize("kind", FORMATS)
def test_every_format_reads_as_its_raw_disk(tmp_path: Path, kind: str) -> None:
    path, data = _made(tmp_path, kind)
    fetched = hashlib.sha256(path.read_bytes()).hexdigest()
    work = tmp_path / "work"
    work.mkdir()
    with SourceServer(tmp_path) as server:
        for location in (str(path), server.url_for(path.name) + SECRET):
            with _temp_dir(work), open_source(location, policy=FAST) as source:
                assert (source.size, source.raw_size) == (
                    path.stat().st_size,
                    None if len(kind) < 4 else len(data),
                )
                assert source.read(len(data) + 1) == data
                assert source.fetched_sha256() == fetched  # what a .sha256sum next to the file describes
                assert list(work.iterdir()) == []  # qemu-img's files are gone while the RAW is read
            assert list(work.iterdir()) == []


@pytest.mark.parametrize("kind", ["RAW", "qcow2"])
def test_the_qemu_img_converter_reads_raw_too(tmp_path: Path, image: tuple[Path, bytes], kind: str) -> None:
    path, data = image if kind == "RAW" else _qemu_image(tmp_path, "qcow2", [])
    with open_source(str(path), converter="qemu-img") as source:
        assert source.read(len(data) + 1) == data
        assert source.fetched_sha256() == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_broken_compressed_stream_is_named(tmp_path: Path) -> None:
    path, _ = _compressed(tmp_path, "xz")
    path.write_bytes(path.read_bytes()[:-200])
    with open_source(str(path)) as source, pytest.raises(SourceError, match="is not a valid xz stream"):
        source.read(4 * MIB)


def test_images_that_read_other_files_are_refused(tmp_path: Path) -> None:
    base, _ = _qemu_image(tmp_path, "qcow2", [])
    overlay = tmp_path / "overlay.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-f", "qcow2", "-b", base, "-F", "qcow2", overlay],
        check=True,
        capture_output=True,
    )
    with pytest.raises(ConversionError, match="has a backing file"):
        open_source(str(overlay))
    descriptor = tmp_path / "disk.vmdk"
    subprocess.run(
        ["qemu-img", "create", "-f", "vmdk", "-o", "subformat=monolithicFlat", descriptor, "1M"],
        check=True,
        capture_output=True,
    )
    with pytest.raises(SourceError, match="VMDK descriptor"):
        open_source(str(descriptor))
    child = tmp_path / "child.vhd"
    dynamic, _ = _qemu_image(tmp_path, "vpc", ["-o", "subformat=dynamic"])
    head = bytearray(dynamic.read_bytes()[:512])
    head[60:64] = (4).to_bytes(4, "big")  # disk type 4: differencing
    child.write_bytes(bytes(head) + dynamic.read_bytes()[512:])
    with pytest.raises(SourceError, match="differencing VHD"):
        open_source(str(child))


def _host_file(tmp_path: Path) -> tuple[Path, bytes]:
    """A file outside the image that a hostile image names: it must never be read."""
    secret = b"host secret, never to be published\n" * 40
    path = tmp_path / "host" / "secret"
    path.parent.mkdir()
    path.write_bytes(secret)
    return path, secret


def test_a_qcow2_whose_backing_file_is_a_host_path_is_refused(tmp_path: Path) -> None:
    secret_path, _ = _host_file(tmp_path)
    hostile = tmp_path / "AlmaLinux-9-Azure-9.6-20250522.0.x86_64.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-f", "qcow2", "-b", str(secret_path), "-F", "raw", hostile],
        check=True,
        capture_output=True,
    )
    with pytest.raises(ConversionError, match=f"has a backing file \\({secret_path}\\).*standalone image"):
        open_source(str(hostile))


def _vmdk_reading(tmp_path: Path, host_file: Path) -> Path:
    """A one-file VMDK (KDMV header) whose embedded descriptor names `host_file` as a flat extent:
    with a capacity of 0 in the header, qemu-img reads the disk from the files the descriptor lists."""
    sparse = tmp_path / "sparse.vmdk"
    subprocess.run(["qemu-img", "create", "-q", "-f", "vmdk", sparse, "1M"], check=True)
    image = bytearray(sparse.read_bytes())
    descriptor_sector, descriptor_sectors = struct.unpack_from("<QQ", image, 28)
    start, end = descriptor_sector * 512, (descriptor_sector + descriptor_sectors) * 512
    descriptor = bytes(image[start:end]).rstrip(b"\0").decode()
    descriptor = descriptor.replace('createType="monolithicSparse"', 'createType="monolithicFlat"')
    descriptor = re.sub(r'RW \d+ SPARSE "[^"]*"', f'RW 1 FLAT "{host_file}" 0', descriptor)
    image[start:end] = descriptor.encode().ljust(end - start, b"\0")
    struct.pack_into("<Q", image, 12, 0)  # capacity 0: the embedded descriptor decides
    hostile = tmp_path / "AlmaLinux-9-Azure-9.6-20250522.0.x86_64.vmdk"
    hostile.write_bytes(image)
    return hostile


def test_a_vmdk_that_reads_a_host_file_is_refused_and_nothing_of_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_path, secret = _host_file(tmp_path)
    hostile = _vmdk_reading(tmp_path, secret_path)
    # The premise: qemu-img itself would copy the host file's bytes into the disk.
    leaked = tmp_path / "leaked.raw"
    subprocess.run(["qemu-img", "convert", "-f", "vmdk", "-O", "raw", hostile, leaked], check=True)
    assert leaked.read_bytes()[:32] == secret[:32]
    work = tmp_path / "work"
    work.mkdir()
    with (
        _temp_dir(work),
        pytest.raises(ConversionError, match=f"reads its data from another file.*{secret_path}"),
    ):
        open_source(str(hostile))
    assert list(work.iterdir()) == []


def test_qemu_img_runs_within_limits_and_one_past_them_is_stopped_with_the_reason(tmp_path: Path) -> None:
    limits = conversion.Limits(seconds=5, file_bytes=1024, address_space=1024 * MIB)
    # What the child is given (sh's ulimit: address space in KiB, file size in 512-byte blocks).
    shown = conversion._run(["sh", "-c", "ulimit -v; ulimit -t; ulimit -f; ulimit -c"], "read", limits)
    assert shown.split() == [str(1024 * 1024), "6", "2", "0"]
    with pytest.raises(ConversionError, match=r"did not convert the image within 1 s and was stopped"):
        conversion._run(["sleep", "30"], "convert", conversion.Limits(seconds=1, file_bytes=0))
    too_big = tmp_path / "too-big"
    with pytest.raises(ConversionError, match=r"stopped by signal 25 on reaching its limits"):
        conversion._run(["sh", "-c", f"exec head -c 4096 /dev/zero > {too_big}"], "convert", limits)
    assert too_big.stat().st_size == 1024


def test_too_little_disk_is_refused_before_converting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = _qemu_image(tmp_path, "qcow2", [])
    work = tmp_path / "work"
    work.mkdir()
    # The real free space of the real disk, with a reserve no disk has.
    monkeypatch.setattr(conversion, "DISK_RESERVE", 1 << 60)
    with _temp_dir(work), pytest.raises(ConversionError, match=r"needs .* GiB of local disk .* only .* free"):
        open_source(str(path))
    with (
        SourceServer(tmp_path) as server,
        _temp_dir(work),
        pytest.raises(ConversionError, match="downloading"),
    ):
        open_source(server.url_for(path.name), policy=FAST)
    assert list(work.iterdir()) == []


@contextlib.contextmanager
def _temp_dir(path: Path) -> Iterator[None]:
    saved = tempfile.tempdir
    tempfile.tempdir = str(path)
    try:
        yield
    finally:
        tempfile.tempdir = saved


def test_public_url_drops_query_and_fragment() -> None:
    assert redact_url("https://h/b/k.raw?sig=1#x") == "https://h/b/k.raw"


def test_source_server_runs_as_a_command(tmp_path: Path, image: tuple[Path, bytes]) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "local.source_server", "--dir", str(image[0].parent.parent)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base = process.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:")
        head = requests.head(f"{base}/bucket/disk.raw", timeout=5)
        assert head.headers["Content-Length"] == str(len(image[1]))
        assert head.headers["Accept-Ranges"] == "bytes"
        part = requests.get(f"{base}/bucket/disk.raw", headers={"Range": f"bytes={MIB}-{MIB + 9}"}, timeout=5)
        assert part.status_code == 206
        assert part.headers["Content-Range"] == f"bytes {MIB}-{MIB + 9}/{len(image[1])}"
        assert part.content == image[1][MIB : MIB + 10]
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
