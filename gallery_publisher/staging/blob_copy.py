"""A local copy of a blob of our own storage account, for qemu-img to convert (a dynamic VHD)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from azure.core import MatchConditions
from azure.storage.blob import BlobClient

from gallery_publisher.source import conversion
from gallery_publisher.urls import redact_url


@contextmanager
def local_copy(blob: BlobClient) -> Iterator[tuple[Path, str | None]]:
    """The blob downloaded into a temporary directory (free disk checked first), and its ETag.

    Read through the SDK with the app's own credentials (the container is private). The copy is
    of one version of the blob: a change while it is read fails the download. Deleted on every path."""
    properties = blob.get_blob_properties()
    work = Path(tempfile.mkdtemp(prefix="gallery-publisher-"))
    try:
        conversion.check_free_disk(work, properties.size, f"copying {redact_url(blob.url)} for qemu-img")
        path = work / "source.vhd"
        with path.open("wb") as copy:
            download = blob.download_blob(
                etag=properties.etag, match_condition=MatchConditions.IfNotModified, max_concurrency=2
            )
            download.readinto(copy)
        yield path, properties.etag
    finally:
        shutil.rmtree(work, ignore_errors=True)
