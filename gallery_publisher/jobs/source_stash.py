"""A signed source URL kept out of Durable state: stashed in a private blob while its job runs.

Orchestration inputs, activity inputs and outputs, custom status and output are all stored in the
task hub's history, where anyone who can read the hub (or list instances with their input) sees
them. So the starter strips the query string (a presigned S3 URL's signature) from the request,
keeps the whole URL in a blob named after the job's instance id in a private container of the
images account, and the staging activity reads it back. The job deletes it once staging is over,
on every path. A VHD URL needs no stash: the app reads its own account with its own identity.
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import urlsplit

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient

from gallery_publisher.planning.image_names import SourceKind, parse_image_name
from gallery_publisher.planning.plan import PublishRequest, source_kind
from gallery_publisher.staging.storage import StorageError, put_private_blob
from gallery_publisher.urls import redact_url

# Private (no anonymous access): created so by the Bicep template, and by `stash_source_url`.
CONTAINER = "job-sources"


def secret_free_body(body: dict[str, Any], request: PublishRequest) -> dict[str, Any]:
    """The request body as the job may store it: the image URL without query or fragment."""
    return {**body, "image_url": redact_url(request.image_url)}


def needs_stash(request: PublishRequest) -> bool:
    """A RAW that will be staged, from a URL whose query (a signature) the job must not store."""
    kind = source_kind(request.url_type, parse_image_name(request.image_url))
    return kind is SourceKind.RAW and not request.dry_run and bool(urlsplit(request.image_url).query)


def stash_source_url(blobs: BlobServiceClient, instance_id: str, url: str) -> None:
    put_private_blob(blobs, CONTAINER, instance_id, url.encode())


def stashed_source_url(blobs: BlobServiceClient, instance_id: str, url: str) -> str:
    """The signed URL stashed for the job, or `url` itself when none was (an unsigned source)."""
    try:
        stashed = blobs.get_blob_client(CONTAINER, instance_id).download_blob().readall().decode()
    except ResourceNotFoundError:
        return url
    if redact_url(stashed) != redact_url(url):
        raise StorageError(
            f"the URL stashed for job {instance_id} is not {redact_url(url)}; submit the job again"
        )
    return stashed


def discard_source_url(blobs: BlobServiceClient, instance_id: str) -> None:
    with contextlib.suppress(ResourceNotFoundError):
        blobs.get_blob_client(CONTAINER, instance_id).delete_blob()
