"""Check a VHD blob given as input before a gallery is asked to use it, reading only its footer."""

from __future__ import annotations

from dataclasses import dataclass

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.storage.blob import BlobClient

from gallery_publisher import storage, vhd
from gallery_publisher.errors import PublishError
from gallery_publisher.urls import redact_url


class VhdBlobError(PublishError):
    """The blob is not a VHD a gallery can use; the message says why and what to do."""


class VhdBlobUnfinishedError(VhdBlobError):
    """The blob looks like an upload still under way: no footer yet, or a staging not finished."""

    code = "VhdBlobUnfinished"


@dataclass(frozen=True)
class VhdBlob:
    blob_url: str
    size: int
    disk_size: int
    content_md5: str | None  # hex; None when whoever uploaded it did not record one


def validate_vhd_blob(blob: BlobClient) -> VhdBlob:
    """Exists, is a page blob, ends in a valid fixed-disk footer, and is N MiB + 512 bytes."""
    url = redact_url(blob.url)
    try:
        state = storage.blob_state(blob)
        if state is None:
            raise VhdBlobError(f"{url} does not exist; check the container and blob name")
        if state.blob_type != "PageBlob":
            raise VhdBlobError(
                f"{url} is a {state.blob_type or 'non-page blob'}, not a page blob; Azure makes images only "
                "from page blobs: upload the VHD again with `--type page`"
            )
        if state.source_url is not None and not state.complete:
            raise VhdBlobUnfinishedError(
                f"{url} is incomplete: its staging from {state.source_url} did not finish; stage it again"
            )
        if state.size < vhd.FOOTER_SIZE:
            raise VhdBlobError(f"{url} holds {state.size} bytes, less than a VHD footer")
        footer = storage.read_tail(blob, state.size, vhd.FOOTER_SIZE)
    except (ClientAuthenticationError, HttpResponseError) as error:
        raise VhdBlobError(
            f"cannot read {url}: {error.reason or type(error).__name__}; check access to the account"
        ) from None
    try:
        parsed = vhd.check_fixed_vhd(state.size, footer)
    except vhd.VhdFooterError as error:
        # A page blob reads as zeros until written: no footer yet most likely means an upload under way.
        unfinished = footer == bytes(vhd.FOOTER_SIZE)
        kind = VhdBlobUnfinishedError if unfinished else VhdBlobError
        raise kind(f"{url} is not a usable fixed VHD: {error}") from None
    return VhdBlob(url, state.size, parsed.disk_size, state.content_md5)
