"""The clean-up of staging leftovers, against real Azurite: only our incomplete, old, unleased blobs."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from azure.storage.blob import BlobServiceClient, ContainerClient, ContentSettings

from gallery_publisher.planning.settings import load_settings
from gallery_publisher.staging import storage
from gallery_publisher.staging.leftovers import clean_up_leftovers
from local.azurite import Azurite
from tests.support.raw_images import MIB, new_container

SOURCE = "https://bucket.s3.amazonaws.com/AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw"
OURS = {storage.SOURCE_URL: SOURCE, storage.SOURCE_SIZE: str(MIB)}


def _page_blob(container: ContainerClient, name: str, metadata: dict[str, str], complete: bool) -> None:
    blob = container.get_blob_client(name)
    blob.create_page_blob(size=MIB, metadata=metadata)
    if complete:
        md5 = bytearray(hashlib.md5(bytes(MIB)).digest())
        blob.set_http_headers(ContentSettings(content_md5=md5))


def _fill(container: ContainerClient) -> None:
    _page_blob(container, "ours-incomplete.vhd", OURS, complete=False)
    _page_blob(container, "ours-complete.vhd", OURS, complete=True)
    _page_blob(container, "someone-elses-upload.vhd", {}, complete=False)
    _page_blob(container, "ours-being-staged.vhd", OURS, complete=False)
    container.get_blob_client("ours-being-staged.vhd").acquire_lease(lease_duration=60)


def test_a_dry_run_lists_only_our_old_incomplete_idle_blobs_and_deletes_nothing(azurite: Azurite) -> None:
    container = new_container(BlobServiceClient.from_connection_string(azurite.connection_string))
    _fill(container)
    later = datetime.now(UTC) + timedelta(hours=73)
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    done = clean_up_leftovers(service, load_settings({}), [container.container_name], later)
    assert [(b.name, b.source_url) for b in done.leftovers] == [("ours-incomplete.vhd", SOURCE)]
    assert done.deleted == ()
    assert "dry run" in done.describe()
    assert len(list(container.list_blob_names())) == 4


def test_blobs_younger_than_the_age_are_kept(azurite: Azurite) -> None:
    container = new_container(BlobServiceClient.from_connection_string(azurite.connection_string))
    _fill(container)
    soon = datetime.now(UTC) + timedelta(hours=71)
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    settings = load_settings({"GALLERY_PUBLISHER_CLEANUP_DELETE": "true"})
    assert clean_up_leftovers(service, settings, [container.container_name], soon).leftovers == ()


def test_deleting_is_a_setting_and_takes_only_the_leftovers(azurite: Azurite) -> None:
    container = new_container(BlobServiceClient.from_connection_string(azurite.connection_string))
    _fill(container)
    later = datetime.now(UTC) + timedelta(hours=2)
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    settings = load_settings(
        {"GALLERY_PUBLISHER_CLEANUP_DELETE": "true", "GALLERY_PUBLISHER_CLEANUP_AFTER_HOURS": "1"}
    )
    done = clean_up_leftovers(service, settings, [container.container_name, "no-such-container"], later)
    assert [b.name for b in done.deleted] == ["ours-incomplete.vhd"]
    assert sorted(container.list_blob_names()) == [
        "ours-being-staged.vhd",
        "ours-complete.vhd",
        "someone-elses-upload.vhd",
    ]
