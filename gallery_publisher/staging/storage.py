"""Blob Storage as the rest of the core sees it: staged VHD blobs, their names and their state.

Clients are passed in; `blob_service_client(settings)` is the one place that builds one, for the
command line and the Function App's composition root (`blob_client_for_url` goes through it too,
unless the URL carries its own SAS).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlsplit

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import (
    BlobClient,
    BlobProperties,
    BlobServiceClient,
    ContainerClient,
    ExponentialRetry,
)

from gallery_publisher.errors import PublishError
from gallery_publisher.planning.settings import Settings
from gallery_publisher.urls import blob_location, redact_url

# Metadata a staged blob carries, so a re-run can recognise it without reading the source again.
SOURCE_URL = "source_url"
SOURCE_SIZE = "source_size"
SOURCE_ETAG = "source_etag"
MD5 = "md5"
SOURCE_SHA256 = "source_sha256"  # hex SHA-256 of the RAW bytes, recorded with the MD5 at the end
STAGED_BYTES = "staged_bytes"  # RAW bytes read so far, recorded now and then while staging runs


class StorageError(PublishError):
    """A storage problem the user can fix; the message says how."""

    code: ClassVar[str] = "Storage"


@dataclass(frozen=True)
class StagedBlob:
    """A blob's state as staging records it. Complete means Content-MD5 is set: that comes last."""

    name: str
    url: str
    size: int
    blob_type: str
    content_md5: str | None  # hex
    source_url: str | None
    source_size: int | None
    source_etag: str | None
    md5: str | None  # hex, as recorded in metadata
    source_sha256: str | None = None  # hex, as recorded in metadata (absent on older blobs)
    etag: str = ""  # of the blob itself, when its state was read

    @property
    def complete(self) -> bool:
        return self.content_md5 is not None

    def staged_from(self, source_url: str, source_size: int, source_etag: str | None) -> bool:
        """Complete, consistent, and from this very source (same URL, size and ETag)."""
        return (
            self.complete
            and self.md5 == self.content_md5
            and source_etag is not None
            and self.source_url == source_url
            and self.source_size == source_size
            and self.source_etag == source_etag
        )


def _staged_blob(properties: BlobProperties, url: str) -> StagedBlob:
    metadata = properties.metadata or {}
    content_md5 = properties.content_settings.content_md5
    size_text = metadata.get(SOURCE_SIZE)
    return StagedBlob(
        name=properties.name,
        url=redact_url(url),
        size=properties.size,
        blob_type=str(properties.blob_type.value if properties.blob_type else ""),
        content_md5=bytes(content_md5).hex() if content_md5 else None,
        source_url=metadata.get(SOURCE_URL),
        source_size=int(size_text) if size_text and size_text.isascii() and size_text.isdigit() else None,
        source_etag=metadata.get(SOURCE_ETAG),
        md5=metadata.get(MD5),
        source_sha256=metadata.get(SOURCE_SHA256),
        etag=str(properties.etag or ""),
    )


def blob_state(blob: BlobClient) -> StagedBlob | None:
    """The blob's state, or None when there is no such blob."""
    try:
        properties = blob.get_blob_properties()
    except ResourceNotFoundError:
        return None
    properties.name = blob.blob_name
    return _staged_blob(properties, blob.url)


def list_blob_names(container: ContainerClient, prefix: str) -> list[str]:
    """Names of the blobs starting with `prefix`: the input of the upload-index rule."""
    return sorted(container.list_blob_names(name_starts_with=prefix))


def find_blobs_from_source(container: ContainerClient, source_url: str, prefix: str = "") -> list[StagedBlob]:
    """Blobs staged earlier from this source URL (query ignored), complete or not."""
    wanted = redact_url(source_url)
    found = []
    for properties in container.list_blobs(name_starts_with=prefix or None, include=["metadata"]):
        if (properties.metadata or {}).get(SOURCE_URL) == wanted:
            url = container.get_blob_client(properties.name).url
            found.append(_staged_blob(properties, url))
    return found


def put_private_blob(blobs: BlobServiceClient, container: str, name: str, data: bytes) -> None:
    """Write a small blob of the app's own, creating its container on first use: private, as no
    `public_access` is given (the Bicep template creates the app's containers so too)."""
    with contextlib.suppress(ResourceExistsError):  # an earlier write made it
        blobs.create_container(container)
    blobs.get_blob_client(container, name).upload_blob(data, overwrite=True)


def read_tail(blob: BlobClient, blob_size: int, length: int) -> bytes:
    """The last `length` bytes of a blob, without reading anything before them."""
    return blob.download_blob(offset=blob_size - length, length=length).readall()


def blob_service_client(settings: Settings) -> BlobServiceClient:
    """The storage account of the settings: a connection string wins (that is how Azurite is
    reached); else the account's endpoint with the ambient Azure identity."""
    # The SDK's default storage retry waits 15 s, then 18 s...: far too long inside a streaming upload
    # that already retries each Put Page itself. Short, few retries here; the stager does the rest.
    retry = ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=3, random_jitter_range=1)
    if settings.storage_connection_string:
        return BlobServiceClient.from_connection_string(
            settings.storage_connection_string, retry_policy=retry
        )
    from azure.identity import DefaultAzureCredential

    return BlobServiceClient(settings.blob_endpoint, credential=DefaultAzureCredential(), retry_policy=retry)


def blob_client_for_url(url: str, settings: Settings) -> BlobClient:
    """A client for a blob URL, authenticated as `blob_service_client` would be.

    A URL carrying a SAS token is used as it is; its query never appears in a message."""
    if urlsplit(url).query:
        return BlobClient.from_blob_url(url)
    service = blob_service_client(settings)
    account_url = service.url.rstrip("/") + "/"
    if not url.startswith(account_url):
        raise StorageError(
            f"{redact_url(url)} is not in the storage account {account_url}; point "
            "AZURE_STORAGE_CONNECTION_STRING or GALLERY_PUBLISHER_STORAGE_ACCOUNT at the account that holds it"
        )
    location = blob_location(url, account_url)
    if location is None:
        raise StorageError(f"{redact_url(url)} is not a blob URL (expected {account_url}CONTAINER/BLOB)")
    return service.get_blob_client(*location)


def staging_progress(blob: BlobClient) -> tuple[int, int] | None:
    """(RAW bytes read, RAW size) of a blob being staged, as its stager last recorded; None if unknown."""
    try:
        metadata = blob.get_blob_properties().metadata or {}
    except ResourceNotFoundError:
        return None
    done, total = metadata.get(STAGED_BYTES, ""), metadata.get(SOURCE_SIZE, "")
    return (int(done), int(total)) if done.isdecimal() and total.isdecimal() else None
