"""Compressed RAW streamed and other formats converted by qemu-img, staged into real Azurite."""

from __future__ import annotations

import gzip
import hashlib
import lzma
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard
from azure.storage.blob import BlobServiceClient, ContainerClient

from gallery_publisher.source.checksum import PublishedChecksum
from gallery_publisher.source.reader import RetryPolicy, open_source
from gallery_publisher.staging import vhd
from gallery_publisher.staging.stager import StageResult, StagingError, stage_source
from gallery_publisher.staging.vhd_blob import validate_vhd_blob
from local.azurite import Azurite
from local.sample_image import build_sample_raw
from local.source_server import Faults, SourceServer
from tests.integration.test_staging import qemu_vhd, with_identity_of
from tests.support.raw_images import MIB, new_container, write_sparse_raw

FAST = RetryPolicy(attempts=3, first_backoff=0.01, stall_timeout=0.3)
# Not a whole MiB, so the padding after a stream's end is exercised; data in the last sector too.
RAW_SIZE = 13 * MIB + 1536
REGIONS = [(0, 4096), (3 * MIB + 512, 2 * MIB), (RAW_SIZE - 512, 512)]
COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "xz": lzma.compress,
    "gz": gzip.compress,
    "zst": lambda data: zstandard.ZstdCompressor().compress(data),
}


@pytest.fixture
def container(azurite: Azurite) -> ContainerClient:
    return new_container(BlobServiceClient.from_connection_string(azurite.connection_string))


def stage_file(
    container: ContainerClient, location: str, name: str, **options: object
) -> tuple[StageResult, bytes]:
    blob = container.get_blob_client(name)
    with open_source(location, policy=FAST, **options) as source:  # type: ignore[arg-type]
        result = stage_source(source, blob)
    validate_vhd_blob(blob)
    return result, blob.download_blob().readall()


@pytest.mark.parametrize("kind", sorted(COMPRESS))
def test_a_compressed_raw_is_streamed_through_a_dropped_connection(
    container: ContainerClient, tmp_path: Path, kind: str
) -> None:
    raw = tmp_path / "disk.raw"
    data = write_sparse_raw(raw, RAW_SIZE, REGIONS)
    packed = tmp_path / f"AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw.{kind}"
    packed.write_bytes(COMPRESS[kind](data))
    published = hashlib.sha256(packed.read_bytes()).hexdigest()
    drop = packed.stat().st_size * 3 // 10
    with SourceServer(tmp_path, faults=Faults(drop_at=drop)) as server:
        blob = container.get_blob_client("packed.vhd")
        with open_source(server.url_for(packed.name), policy=FAST) as source:
            result = stage_source(source, blob, checksum=PublishedChecksum(published, "published next to it"))
        assert [r.range for r in server.requests if r.range], "the drop was resumed with a Range request"
    staged = blob.download_blob().readall()
    assert staged == with_identity_of(qemu_vhd(raw, tmp_path), staged)
    assert (result.size, result.source_sha256, result.source_verified) == (len(staged), published, True)
    assert result.md5 == hashlib.md5(staged).hexdigest()
    assert validate_vhd_blob(blob).disk_size == vhd.padded_disk_size(RAW_SIZE)


def test_a_compressed_raw_that_does_not_match_its_checksum_is_left_incomplete(
    container: ContainerClient, tmp_path: Path
) -> None:
    packed = tmp_path / "disk.raw.xz"
    packed.write_bytes(lzma.compress(bytes(2 * MIB)))
    blob = container.get_blob_client("bad.vhd")
    with (
        open_source(str(packed)) as source,
        pytest.raises(StagingError, match=r"SHA-256 is .* but the published"),
    ):
        stage_source(source, blob, checksum=PublishedChecksum("0" * 64, "published next to it"))
    assert blob.get_blob_properties().content_settings.content_md5 is None


@pytest.mark.parametrize("fmt", ["qcow2", "vmdk", "vhdx", "vpc"])
def test_other_formats_are_converted_by_qemu_img_and_staged(
    container: ContainerClient, tmp_path: Path, fmt: str
) -> None:
    raw = tmp_path / "disk.raw"
    write_sparse_raw(raw, RAW_SIZE, REGIONS)
    image = tmp_path / f"disk.{fmt}"
    options = ["-o", "subformat=dynamic,force_size"] if fmt == "vpc" else []
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", fmt, *options, raw, image], check=True)
    with SourceServer(tmp_path) as server:
        result, staged = stage_file(container, server.url_for(image.name), f"{fmt}.vhd")
    assert staged == with_identity_of(qemu_vhd(raw, tmp_path), staged)
    assert result.source_sha256 == hashlib.sha256(image.read_bytes()).hexdigest()


def test_both_converters_give_the_same_vhd_for_the_sample_image(
    container: ContainerClient, tmp_path: Path
) -> None:
    sample = build_sample_raw(tmp_path / "AlmaLinux-9-Azure-9.6-20261126.0.x86_64.raw")
    native, native_vhd = stage_file(container, str(sample), "native.vhd")
    qemu, qemu_vhd_bytes = stage_file(container, str(sample), "qemu-img.vhd", converter="qemu-img")
    assert native_vhd[:-512] == qemu_vhd_bytes[:-512], "the disk data is byte-identical"
    # The footers differ in their timestamp (24:28), checksum (64:68) and UUID (68:84) only.
    for start, end in ((0, 24), (28, 64), (84, 512)):
        assert (
            native_vhd[-512 + start : len(native_vhd) - 512 + end]
            == qemu_vhd_bytes[-512 + start : len(qemu_vhd_bytes) - 512 + end]
        )
    assert native.source_sha256 == qemu.source_sha256 == hashlib.sha256(sample.read_bytes()).hexdigest()
    # And both are what the old pipeline's qemu-img made of it.
    assert native_vhd == with_identity_of(qemu_vhd(sample, tmp_path), native_vhd)
