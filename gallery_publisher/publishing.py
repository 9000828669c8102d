"""The publishing use cases, one function per step of the job, on clients the caller passes in.

The Function App's activities and the command line both call these; neither decides anything
these functions decide, and these functions never decide the flow (that is the orchestrator's).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from azure.storage.blob import BlobClient, BlobServiceClient

from gallery_publisher import __version__
from gallery_publisher.errors import PublishError
from gallery_publisher.gallery.client import GalleryClient
from gallery_publisher.gallery.records import (
    DefinitionInfo,
    DefinitionTarget,
    VersionSpec,
    publish_tags,
)
from gallery_publisher.jobs.messages import VersionJob
from gallery_publisher.planning.families import family_for
from gallery_publisher.planning.image_names import SourceKind, parse_image_name
from gallery_publisher.planning.plan import ExistingState, PublishPlan, PublishRequest, make_plan
from gallery_publisher.planning.settings import Settings
from gallery_publisher.source.checksum import fetch_published_sha256
from gallery_publisher.source.pinned_http import GuardedClient
from gallery_publisher.source.policy import SourceGuard
from gallery_publisher.source.reader import open_source
from gallery_publisher.staging import storage
from gallery_publisher.staging.blob_copy import local_copy
from gallery_publisher.staging.stager import StageOptions, StageResult, stage_source
from gallery_publisher.staging.vhd_blob import VhdBlob, hold_validated, release_held, validate_vhd_blob
from gallery_publisher.urls import blob_location, redact_url


@dataclass(frozen=True)
class Services:
    """The clients a job needs, built at the edge (CLI or Function App) and passed in."""

    settings: Settings
    blobs: BlobServiceClient
    gallery: GalleryClient


def definition_targets(plan: PublishPlan) -> list[DefinitionTarget]:
    """The image definitions the plan publishes into, with the properties its family requires."""
    return [DefinitionTarget(plan.gallery, definition) for definition in family_for(plan.image).definitions]


def read_existing_state(
    request: PublishRequest, offline: PublishPlan, services: Services, taken_blobs: tuple[str, ...] = ()
) -> ExistingState:
    """Blobs and versions already there for this release, date and type (the upload-index rule), where
    the offline plan (made without them) publishes.

    `taken_blobs` are blobs staging refused for this source (a RAW re-uploaded at the same URL has a
    new ETag, so the blob of the old upload is not its own): they count as used, never as reusable."""
    family = family_for(offline.image)
    versions = tuple(
        summary.name
        for definition in family.definitions
        for summary in services.gallery.list_versions(offline.gallery, definition.name)
    )
    if offline.source_kind is SourceKind.VHD:
        return ExistingState(version_names=versions)
    container = services.blobs.get_container_client(family.container)
    prefix = family.blob_prefix(offline.image)
    names = tuple(storage.list_blob_names(container, prefix))
    earlier = [
        blob
        for blob in storage.find_blobs_from_source(container, request.image_url, prefix)
        if blob.name not in taken_blobs
    ]
    # A complete blob from this source is reused; else an unfinished one is finished under its name.
    earlier.sort(key=lambda blob: not blob.complete)
    return ExistingState(names, versions, earlier[0].name if earlier else None)


@dataclass(frozen=True)
class PreparedJob:
    plan: PublishPlan
    definitions: tuple[DefinitionInfo, ...]
    existing: ExistingState

    def to_json(self) -> dict[str, Any]:
        locations = {info.name: info.location for info in self.definitions}
        plan = self.plan.to_json()
        for version in plan["versions"]:
            version["location"] = locations[version["definition"]]
        return plan


def prepare_job(
    request: PublishRequest, services: Services, taken_blobs: tuple[str, ...] = ()
) -> PreparedJob:
    """Plan offline (every rule checked before anything is read), check the target definitions (before
    anything is written), read what exists, plan with it. The offline plan names the gallery, the
    definitions and the blobs to read; the upload index and the regions need what exists."""
    offline = make_plan(request, services.settings)
    definitions = services.gallery.preflight(definition_targets(offline))
    homes = tuple(info.location for info in definitions)
    existing = replace(read_existing_state(request, offline, services, taken_blobs), home_regions=homes)
    return PreparedJob(make_plan(request, services.settings, existing), definitions, existing)


def stage_raw(plan: dict[str, Any], source_url: str, services: Services) -> StageResult:
    """Stream the RAW source into the plan's page blob (or find it already staged)."""
    blob = services.blobs.get_blob_client(plan["container"], plan["blob_name"])
    if parse_image_name(source_url).source_kind is SourceKind.VHD:
        return _stage_fixed_copy(source_url, blob, services)
    # The guard checks the URL, its addresses and every redirect again, here where the bytes are read.
    guard = SourceGuard(services.settings)
    checksum_client = GuardedClient(guard)
    try:
        checksum = fetch_published_sha256(source_url, checksum_client)
    finally:
        checksum_client.close()
    with open_source(source_url, guard=guard, converter=services.settings.converter) as source:
        options = StageOptions(deadline_seconds=services.settings.staging_deadline_minutes * 60.0)
        return stage_source(source, blob, options=options, checksum=checksum)


def _vhd_client(plan: dict[str, Any], services: Services) -> BlobClient:
    """The client of the plan's VHD, its URL decoded once (urls.blob_location)."""
    location = blob_location(plan["blob_url"], services.settings.blob_endpoint)
    if location is None:
        raise PublishError(f"{redact_url(plan['blob_url'])} is not a blob of the configured storage account")
    return services.blobs.get_blob_client(*location)


def _stage_fixed_copy(source_url: str, blob: BlobClient, services: Services) -> StageResult:
    """A VHD blob Azure cannot use as it is (a dynamic one), staged as a fixed copy under the plan's name.

    The blob is in our account (the plan checked it), so it is read through the SDK, not fetched
    over plain HTTP; qemu-img converts it on local disk. The original is left as it was."""
    source_blob = storage.blob_client_for_url(redact_url(source_url), services.settings)
    with local_copy(source_blob) as (path, etag):
        identity = (redact_url(source_blob.url), etag)
        with open_source(str(path), converter="qemu-img", identity=identity) as source:
            return stage_source(source, blob)


def validate_vhd(plan: dict[str, Any], services: Services) -> VhdBlob:
    """Validate the plan's VHD; the URL it answers (the validated client's) is the one to publish."""
    return validate_vhd_blob(_vhd_client(plan, services))


def hold_vhd(plan: dict[str, Any], etag: str, services: Services) -> str:
    """Hold the plan's VHD as validated (lease and snapshot) until `release_vhd`; the snapshot's id."""
    return hold_validated(_vhd_client(plan, services), etag)


def release_vhd(plan: dict[str, Any], services: Services) -> None:
    release_held(_vhd_client(plan, services))


def stage_result_json(result: StageResult) -> dict[str, Any]:
    return asdict(result)


def version_spec(job: VersionJob) -> VersionSpec:
    """The gallery version a `gallery_version` orchestration creates, from its job."""
    return VersionSpec(
        gallery=job.gallery,
        definition=job.definition,
        version=job.version,
        location=job.location,
        source_uri=job.source_uri,
        storage_account_id=job.storage_account_id,
        target_regions=job.target_regions,
        storage_account_type=job.storage_account_type,
        end_of_life_date=job.end_of_life_date,
        exclude_from_latest=job.exclude_from_latest,
        replication_mode=job.replication_mode,
        tags=publish_tags(job.source_uri, job.source_md5, __version__),
    )
