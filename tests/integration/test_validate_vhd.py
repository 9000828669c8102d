"""Checking a VHD blob given as input, reading nothing but its last 512 bytes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobServiceClient, ContainerClient

from gallery_publisher.cli.staging import add_validate_vhd_arguments, run_validate_vhd
from gallery_publisher.source.reader import open_source
from gallery_publisher.staging import vhd
from gallery_publisher.staging.stager import stage_source
from gallery_publisher.staging.vhd_blob import (
    DynamicVhdError,
    VhdBlobError,
    VhdBlobUnfinishedError,
    hold_validated,
    release_held,
    validate_vhd_blob,
)
from local.azurite import Azurite
from tests.support.raw_images import MIB, RecordingTransport, new_container, write_sparse_raw


@pytest.fixture
def recorder() -> RecordingTransport:
    return RecordingTransport()


@pytest.fixture
def container(azurite: Azurite, recorder: RecordingTransport) -> ContainerClient:
    return new_container(
        BlobServiceClient.from_connection_string(azurite.connection_string, transport=recorder)
    )


def page_blob(container: ContainerClient, name: str, content: bytes) -> str:
    blob = container.get_blob_client(name)
    blob.create_page_blob(len(content))
    for offset in range(0, len(content), 4 * MIB):
        part = content[offset : offset + 4 * MIB]
        if any(part):
            blob.upload_page(part, offset=offset, length=len(part))
    return blob.url


def run_cli(url: str) -> int:
    parser = argparse.ArgumentParser()
    add_validate_vhd_arguments(parser)
    return run_validate_vhd(parser.parse_args([url]))


def test_staged_vhd_is_valid_and_only_its_footer_is_read(
    container: ContainerClient, recorder: RecordingTransport, tmp_path: Path
) -> None:
    raw = tmp_path / "disk.raw"
    write_sparse_raw(raw, 3 * MIB, [(0, 4096)])
    blob = container.get_blob_client("good.vhd")
    with open_source(str(raw)) as source:
        staged = stage_source(source, blob)
    recorder.requests.clear()

    checked = validate_vhd_blob(blob)

    assert (checked.size, checked.disk_size, checked.content_md5) == (3 * MIB + 512, 3 * MIB, staged.md5)
    # The SDK's downloader also lists a page blob's ranges (metadata, no data); the only data read
    # is the footer.
    reads = [h for method, url, h, _ in recorder.requests if method == "GET" and "comp=" not in url]
    assert [h.get("x-ms-range") for h in reads] == [f"bytes={3 * MIB}-{3 * MIB + 511}"]


def test_footer_only_vhd_from_another_tool_is_valid(container: ContainerClient) -> None:
    url = page_blob(container, "plain.vhd", bytes(2 * MIB) + vhd.build_footer(2 * MIB))
    checked = validate_vhd_blob(container.get_blob_client("plain.vhd"))
    assert (checked.blob_url, checked.disk_size, checked.content_md5) == (url, 2 * MIB, None)


def test_missing_blob_is_reported(container: ContainerClient) -> None:
    with pytest.raises(VhdBlobError, match="does not exist"):
        validate_vhd_blob(container.get_blob_client("absent.vhd"))


def test_block_blob_is_refused(container: ContainerClient) -> None:
    container.upload_blob("block.vhd", bytes(MIB) + vhd.build_footer(MIB))
    with pytest.raises(VhdBlobError, match="not a page blob"):
        validate_vhd_blob(container.get_blob_client("block.vhd"))


def test_blob_without_a_footer_is_refused(container: ContainerClient) -> None:
    page_blob(container, "zeros.vhd", bytes(MIB + 512))
    with pytest.raises(VhdBlobError, match="no VHD footer"):
        validate_vhd_blob(container.get_blob_client("zeros.vhd"))


def test_size_that_is_not_whole_mib_plus_footer_is_refused(container: ContainerClient) -> None:
    page_blob(container, "odd.vhd", bytes(MIB + 512) + vhd.build_footer(MIB + 512))
    with pytest.raises(VhdBlobError, match="whole number of MiB"):
        validate_vhd_blob(container.get_blob_client("odd.vhd"))


def test_dynamic_vhd_is_refused(container: ContainerClient) -> None:
    footer = bytearray(vhd.build_footer(MIB))
    footer[60:64] = (3).to_bytes(4, "big")
    footer[64:68] = bytes(4)
    footer[64:68] = (~sum(footer) & 0xFFFFFFFF).to_bytes(4, "big")
    page_blob(container, "dynamic.vhd", bytes(MIB) + bytes(footer))
    with pytest.raises(
        DynamicVhdError, match="is a dynamic VHD, which Azure cannot make an image from"
    ) as raised:
        validate_vhd_blob(container.get_blob_client("dynamic.vhd"))
    assert raised.value.code == "DynamicVhd"  # a job started by the blob's upload stages a fixed copy
    assert raised.value.etag == container.get_blob_client("dynamic.vhd").get_blob_properties().etag


def test_command_prints_json_when_valid_and_exits_2_with_reason_otherwise(
    azurite: Azurite,
    container: ContainerClient,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    url = page_blob(container, "cli.vhd", bytes(MIB) + vhd.build_footer(MIB))

    assert run_cli(url) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert json.loads(out[-1]) == {"blob_url": url, "size": MIB + 512, "disk_size": MIB, "content_md5": None}

    assert run_cli(f"{container.url}/absent.vhd") == 2
    captured = capsys.readouterr()
    assert "does not exist" in captured.err and captured.out == ""

    assert run_cli("https://elsewhere.blob.core.windows.net/c/x.vhd") == 2
    assert "not in the storage account" in capsys.readouterr().err


def _fixed_vhd(disk_mib: int = 2) -> bytes:
    disk = bytes(range(256)) * (disk_mib * MIB // 256)
    return disk + vhd.build_footer(len(disk))


def test_a_held_vhd_refuses_other_writers_until_released_and_its_snapshot_is_what_was_validated(
    container: ContainerClient,
) -> None:
    image = _fixed_vhd()
    blob = container.get_blob_client("held.vhd")
    page_blob(container, "held.vhd", image)
    checked = validate_vhd_blob(blob)
    snapshot_id = hold_validated(blob, checked.etag)
    with pytest.raises(HttpResponseError) as refused:
        blob.upload_page(bytes(512), offset=0, length=512)  # an uploader still writing
    assert refused.value.status_code == 412
    snapshot = container.get_blob_client("held.vhd", snapshot=snapshot_id)
    assert snapshot.download_blob().readall() == image
    release_held(blob)
    blob.upload_page(bytes(512), offset=0, length=512)
    release_held(blob)  # released twice: nothing to do


def test_a_vhd_that_changed_after_its_validation_is_not_held(container: ContainerClient) -> None:
    blob = container.get_blob_client("moving.vhd")
    page_blob(container, "moving.vhd", _fixed_vhd())
    checked = validate_vhd_blob(blob)
    blob.upload_page(b"\x01" * 512, offset=0, length=512)  # the upload goes on
    with pytest.raises(VhdBlobUnfinishedError, match="changed after it was validated"):
        hold_validated(blob, checked.etag)
    assert blob.get_blob_properties().lease.state == "available"
    assert [b.snapshot for b in container.list_blobs(include=["snapshots"])] == [None]  # no snapshot taken
