"""The emulator checks a version's VHD source in Azurite as Azure checks it, and the client reports why."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from azure.storage.blob import BlobServiceClient

from gallery_publisher.gallery.arm_client import compute_client
from gallery_publisher.gallery.client import GalleryClient
from gallery_publisher.gallery.records import PollOutcome, VersionRef, VersionSpec
from gallery_publisher.planning.settings import TargetRegion
from gallery_publisher.staging.vhd import MIB, build_footer
from local.azurite import Azurite
from local.gallery_emulator import Emulator, running_emulator
from tests.support.gallery_support import ACCOUNT_ID, CI, FAST, RG, local_settings, poll_until_finished

CONTAINER = "vhd-source-check"


@pytest.fixture(scope="module")
def blobs(azurite: Azurite) -> BlobServiceClient:
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = service.get_container_client(CONTAINER)
    if not container.exists():
        container.create_container()
    disk = b"\x01" * 4096 + bytes(MIB - 4096)
    uploads = {
        "good.vhd": (disk + build_footer(MIB), "PageBlob"),
        "block.vhd": (disk + build_footer(MIB), "BlockBlob"),
        "misaligned.vhd": (disk + bytes(512) + build_footer(MIB + 512), "PageBlob"),
        "bad-footer.vhd": (disk + b"x" * 512, "PageBlob"),
    }
    for name, (data, blob_type) in uploads.items():
        container.upload_blob(name, data, blob_type=blob_type, overwrite=True)
    return service


@pytest.fixture
def emulator(azurite: Azurite) -> Iterator[Emulator]:
    config = replace(FAST, storage_connection_string=azurite.connection_string)
    with running_emulator(config) as running:
        yield running


def publish(emulator: Emulator, blobs: BlobServiceClient, blob: str, version: str) -> tuple[PollOutcome, str]:
    gallery = GalleryClient(compute_client(local_settings(emulator.base_url)), RG)
    source = f"{blobs.url.rstrip('/')}/{CONTAINER}/{blob}?sv=1&sig=SECRET"
    spec = VersionSpec(
        CI, "almalinux-9-gen2", version, "eastus", source, ACCOUNT_ID, (TargetRegion("eastus", 1),)
    )
    started = gallery.start_version(spec)
    final = poll_until_finished(gallery, VersionRef(CI, "almalinux-9-gen2", version), started.operation_url)[
        -1
    ]
    assert "SECRET" not in str(final.error_message)
    return final.outcome, str(final.error_message)


def test_a_fixed_vhd_page_blob_is_accepted(emulator: Emulator, blobs: BlobServiceClient) -> None:
    assert publish(emulator, blobs, "good.vhd", "1.0.1")[0] == PollOutcome.SUCCEEDED


@pytest.mark.parametrize(
    ("blob", "reason"),
    [
        ("missing.vhd", "does not exist"),
        ("block.vhd", "is a BlockBlob"),
        ("misaligned.vhd", "whole number of MiB"),
        ("bad-footer.vhd", "no VHD footer"),
    ],
)
def test_a_bad_source_ends_the_operation_failed_saying_why(
    emulator: Emulator, blobs: BlobServiceClient, blob: str, reason: str
) -> None:
    outcome, message = publish(emulator, blobs, blob, "1.0.2")
    assert outcome == PollOutcome.FAILED
    assert reason in message and f"{CONTAINER}/{blob}" in message


def test_a_blob_snapshot_is_refused_as_a_source(emulator: Emulator, blobs: BlobServiceClient) -> None:
    snapshot = blobs.get_blob_client(CONTAINER, "good.vhd").create_snapshot()["snapshot"]
    outcome, message = publish(emulator, blobs, f"good.vhd?snapshot={snapshot}&x=", "1.0.3")
    assert outcome == PollOutcome.FAILED and "names a blob snapshot" in message
