"""Check a VHD blob given as input before a gallery is asked to use it, reading only its footer."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from typing import ClassVar

from azure.core import MatchConditions
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.storage.blob import BlobClient, BlobLeaseClient

from gallery_publisher.errors import DYNAMIC_VHD, VHD_BLOB_UNFINISHED, PublishError
from gallery_publisher.staging import storage, vhd
from gallery_publisher.urls import redact_url


class VhdBlobError(PublishError):
    """The blob is not a VHD a gallery can use; the message says why and what to do."""

    code: ClassVar[str] = "VhdBlob"


class VhdBlobUnfinishedError(VhdBlobError):
    """The blob looks like an upload still under way: no footer yet, or a staging not finished."""

    code: ClassVar[str] = VHD_BLOB_UNFINISHED  # a blob-started job waits on this code


class DynamicVhdError(VhdBlobError):
    """The blob is a whole dynamic VHD: Azure refuses it, but a fixed copy of it can be staged."""

    code: ClassVar[str] = DYNAMIC_VHD  # a blob-started job stages a fixed copy on this code

    def __init__(self, message: str, etag: str) -> None:
        super().__init__(message)
        self.etag = etag  # the state found dynamic: a job waits for it to stay put before copying


@dataclass(frozen=True)
class VhdBlob:
    blob_url: str
    size: int
    disk_size: int
    content_md5: str | None  # hex; None when whoever uploaded it did not record one
    etag: str = ""  # the state that was validated


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
    if vhd.is_dynamic_footer(footer):
        raise DynamicVhdError(
            f"{url} is a dynamic VHD, which Azure cannot make an image from; publish it with url_type "
            "raw (a fixed copy is staged under the next upload index), or convert it with "
            "`qemu-img convert -O vpc -o subformat=fixed,force_size`",
            state.etag,
        )
    try:
        parsed = vhd.check_fixed_vhd(state.size, footer)
    except vhd.VhdFooterError as error:
        # A page blob reads as zeros until written: no footer yet most likely means an upload under way.
        unfinished = footer == bytes(vhd.FOOTER_SIZE)
        kind = VhdBlobUnfinishedError if unfinished else VhdBlobError
        raise kind(f"{url} is not a usable fixed VHD: {error}") from None
    return VhdBlob(url, state.size, parsed.disk_size, state.content_md5, state.etag)


def _hold_lease_id(blob: BlobClient) -> str:
    """The lease id jobs hold an input VHD with: derived from the blob, so a re-run (or the release
    step) can take or release it again without the id ever being stored."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"gallery-publisher/{redact_url(blob.url)}"))


def hold_validated(blob: BlobClient, etag: str) -> str:
    """Keep the VHD exactly as validated until the job releases it; return the snapshot's id.

    An infinite lease (conditioned on the validated ETag) stops every other writer while the gallery
    copies the blob; the snapshot, taken under the lease, keeps the validated bytes. When the blob
    changed since its validation, VhdBlobUnfinishedError: the upload is still going on."""
    url = redact_url(blob.url)
    try:
        lease = blob.acquire_lease(
            lease_duration=-1,
            lease_id=_hold_lease_id(blob),
            etag=etag,
            match_condition=MatchConditions.IfNotModified,
        )
        try:
            snapshot = blob.create_snapshot(etag=etag, match_condition=MatchConditions.IfNotModified)
        except HttpResponseError:
            lease.release()
            raise
    except HttpResponseError as error:
        if error.status_code == 412:
            raise VhdBlobUnfinishedError(
                f"{url} changed after it was validated (ETag {etag}): its upload is still going on"
            ) from None
        raise VhdBlobError(
            f"cannot hold {url} for publishing: {error.reason or error.status_code}; another writer holds "
            "its lease: end that upload, then re-run"
        ) from None
    return str(snapshot["snapshot"])


def release_held(blob: BlobClient) -> None:
    """Release the jobs' lease on an input VHD (nothing to do when it is not held)."""
    with contextlib.suppress(HttpResponseError):
        BlobLeaseClient(blob, lease_id=_hold_lease_id(blob)).release()
