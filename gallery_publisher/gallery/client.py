"""The gallery client: preflight, start a version without waiting, poll it once, list versions.

Nothing here blocks: a create is sent and left running, and its progress is read by one GET per
call, so an orchestrator can poll with durable timers. Throttling (429) and transient server errors
come back as RETRY results with the wait Azure asked for; every other failure raises GalleryError
naming the resource and what to do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, ClassVar, NoReturn

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline import PipelineResponse
from azure.core.rest import HttpRequest
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute import models as m

from gallery_publisher.errors import PublishError, ServiceUnavailableError
from gallery_publisher.gallery.records import (
    DefinitionInfo,
    DefinitionTarget,
    PollOutcome,
    RegionStatus,
    StartOutcome,
    StartResult,
    VersionRef,
    VersionSpec,
    VersionStatus,
    VersionSummary,
)
from gallery_publisher.http_retry import is_retryable_status
from gallery_publisher.urls import redact_url

DEFAULT_RETRY_AFTER = 30.0  # seconds, when a retryable answer names no wait
EXPAND_REPLICATION = "ReplicationStatus"


class GalleryError(PublishError):
    """A gallery operation that cannot succeed as asked."""

    code: ClassVar[str] = "Gallery"


class GalleryRetryableError(GalleryError, ServiceUnavailableError):
    """Throttled or a transient failure in a call that has no result record to carry the wait."""

    code: ClassVar[str] = "GalleryRetryable"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def retry_after_of(error: AzureError) -> float | None:
    """The wait before calling again when `error` is worth retrying later, else None."""
    if isinstance(error, (ServiceRequestError, ServiceResponseError)):
        return DEFAULT_RETRY_AFTER
    if (
        isinstance(error, HttpResponseError)
        and error.status_code is not None
        and is_retryable_status(error.status_code)
    ):
        headers: Mapping[str, str] = getattr(error.response, "headers", None) or {}
        header = headers.get("Retry-After")
        try:
            return max(0.0, float(header)) if header else DEFAULT_RETRY_AFTER
        except ValueError:
            return DEFAULT_RETRY_AFTER
    return None


def describe(error: AzureError) -> str:
    """`Code: message` of an Azure error, without request URLs (they may carry secrets)."""
    if isinstance(error, HttpResponseError) and error.error is not None:
        return f"{error.error.code}: {error.error.message}"
    if isinstance(error, HttpResponseError):
        return f"HTTP {error.status_code}: {error.reason}"
    return f"{type(error).__name__}: {error.message}"


def _error_code(error: HttpResponseError) -> str | None:
    return error.error.code if error.error is not None else None


def _source_of(version: m.GalleryImageVersion) -> str | None:
    properties = version.properties
    storage = properties.storage_profile if properties else None
    disk = storage.os_disk_image if storage else None
    source = disk.source if disk else None
    return source.uri if source else None


def _text(value: str | Enum) -> str:
    """The wire value of an SDK enum (str() of one gives 'ClassName.MEMBER')."""
    return str(value.value) if isinstance(value, Enum) else str(value)


def _state_of(version: m.GalleryImageVersion) -> str | None:
    state = version.properties.provisioning_state if version.properties else None
    return _text(state) if state is not None else None


def _version_body(spec: VersionSpec) -> m.GalleryImageVersion:
    end_of_life = (
        datetime.fromisoformat(spec.end_of_life_date).replace(tzinfo=UTC) if spec.end_of_life_date else None
    )
    return m.GalleryImageVersion(
        location=spec.location,
        tags=dict(spec.tags),
        properties=m.GalleryImageVersionProperties(
            publishing_profile=m.GalleryImageVersionPublishingProfile(
                target_regions=[
                    m.TargetRegion(
                        name=region.name,
                        regional_replica_count=region.replicas,
                        storage_account_type=spec.storage_account_type,
                        exclude_from_latest=spec.exclude_from_latest,
                    )
                    for region in spec.target_regions
                ],
                replica_count=1,
                exclude_from_latest=spec.exclude_from_latest,
                end_of_life_date=end_of_life,
                storage_account_type=spec.storage_account_type,
                replication_mode=spec.replication_mode,
            ),
            storage_profile=m.GalleryImageVersionStorageProfile(
                os_disk_image=m.GalleryOSDiskImage(
                    host_caching="ReadOnly",
                    source=m.GalleryDiskImageSource(
                        uri=spec.source_uri, storage_account_id=spec.storage_account_id
                    ),
                )
            ),
        ),
    )


class _AsyncOperationUrl:
    """Catches the Azure-AsyncOperation URL of the one response of a call (a raw_response_hook)."""

    def __init__(self) -> None:
        self.url: str | None = None

    def __call__(self, response: PipelineResponse[Any, Any]) -> None:
        self.url = response.http_response.headers.get("Azure-AsyncOperation") or self.url


@dataclass(frozen=True)
class GalleryClient:
    """Gallery operations in one resource group, on a ComputeManagementClient built by the caller."""

    compute: ComputeManagementClient
    resource_group: str

    # -- reading ------------------------------------------------------------------------------------
    def preflight(self, targets: Sequence[DefinitionTarget]) -> tuple[DefinitionInfo, ...]:
        """Check every target definition exists with the family's architecture and generation."""
        found: list[DefinitionInfo] = []
        problems: list[str] = []
        for target in targets:
            name = f"{target.gallery}/{target.definition.name}"
            try:
                image = self.compute.gallery_images.get(
                    self.resource_group, target.gallery, target.definition.name
                )
            except ResourceNotFoundError:
                problems.append(
                    f"image definition {name} does not exist in resource group {self.resource_group}: create it "
                    f"(architecture {target.definition.architecture}, hyperVGeneration "
                    f"{target.definition.hyper_v_generation}) before publishing"
                )
                continue
            except AzureError as error:
                self._raise_for(error, f"reading image definition {name}")
            info = DefinitionInfo(
                target.gallery,
                target.definition.name,
                image.location,
                _text(image.properties.hyper_v_generation or "V1") if image.properties else "V1",
                # Azure leaves architecture out for x64 definitions made before it existed.
                _text(image.properties.architecture or "x64") if image.properties else "x64",
            )
            if info.hyper_v_generation != target.definition.hyper_v_generation:
                problems.append(
                    f"image definition {name} has hyperVGeneration {info.hyper_v_generation}, but this image "
                    f"needs {target.definition.hyper_v_generation}"
                )
            if info.architecture.lower() != target.definition.architecture.lower():
                problems.append(
                    f"image definition {name} has architecture {info.architecture}, but this image needs "
                    f"{target.definition.architecture}"
                )
            found.append(info)
        if problems:
            raise GalleryError(
                "preflight failed; nothing was uploaded or created:\n- " + "\n- ".join(problems)
            )
        return tuple(found)

    def list_versions(self, gallery: str, definition: str) -> tuple[VersionSummary, ...]:
        """Every version of a definition, with its state (the upload-index rule counts these)."""
        try:
            versions = self.compute.gallery_image_versions.list_by_gallery_image(
                self.resource_group, gallery, definition
            )
            return tuple(
                VersionSummary(v.name or "", _state_of(v), redact_url(s) if (s := _source_of(v)) else None)
                for v in versions
            )
        except AzureError as error:
            self._raise_for(error, f"listing the versions of {gallery}/{definition}")

    def poll_version(self, ref: VersionRef, operation_url: str | None = None) -> VersionStatus:
        """One GET with replication status: provisioning state, per-region progress, error when failed."""
        try:
            version = self.compute.gallery_image_versions.get(
                self.resource_group, ref.gallery, ref.definition, ref.version, expand=EXPAND_REPLICATION
            )
        except ResourceNotFoundError as error:
            if _error_code(error) == "ParentResourceNotFound":
                raise GalleryError(f"cannot read version {ref}: {describe(error)}") from None
            return VersionStatus(ref, PollOutcome.MISSING, error_message=f"version {ref} does not exist")
        except AzureError as error:
            wait = retry_after_of(error)
            if wait is None:
                raise GalleryError(f"cannot read version {ref}: {describe(error)}") from None
            return VersionStatus(ref, PollOutcome.RETRY, error_message=describe(error), retry_after=wait)
        state = _state_of(version)
        replication = version.properties.replication_status if version.properties else None
        regions = tuple(
            RegionStatus(r.region or "", _text(r.state or "Unknown"), int(r.progress or 0), r.details)
            for r in (replication.summary or [] if replication else [])
        )
        aggregated = (
            _text(replication.aggregated_state) if replication and replication.aggregated_state else None
        )
        if state == "Succeeded":
            return VersionStatus(ref, PollOutcome.SUCCEEDED, state, aggregated, regions)
        if state != "Failed":
            return VersionStatus(ref, PollOutcome.IN_PROGRESS, state, aggregated, regions)
        code, message = self._failure(operation_url, regions)
        return VersionStatus(ref, PollOutcome.FAILED, state, aggregated, regions, code, message)

    def _failure(
        self, operation_url: str | None, regions: tuple[RegionStatus, ...]
    ) -> tuple[str | None, str]:
        """The error of a failed version: from its operation when known, else from the failed regions."""
        if operation_url:
            try:
                response = self.compute.send_request(HttpRequest("GET", operation_url))
                error = response.json().get("error") if response.status_code == 200 else None
                if isinstance(error, dict) and error.get("message"):
                    return error.get("code"), str(error["message"])
            except (AzureError, ValueError):
                pass  # the regions' details below still say what failed
        failed = [f"{r.region}: {r.details or 'failed'}" for r in regions if r.state == "Failed"]
        return None, "; ".join(failed) or "the version is in Failed state (Azure gave no details)"

    # -- writing ------------------------------------------------------------------------------------
    def start_version(self, spec: VersionSpec, *, replace_failed: bool = False) -> StartResult:
        """Create the version without waiting, or report what exists (see StartOutcome)."""
        ref = spec.ref
        try:
            existing = self._get_version(ref)
            if existing is None:
                return self._create(spec, replace_failed)
            return self._reconcile(spec, existing, replace_failed)
        except AzureError as error:
            wait = retry_after_of(error)
            if wait is None:
                raise GalleryError(f"cannot create version {ref}: {describe(error)}") from None
            return StartResult(
                ref, StartOutcome.RETRY, f"Azure asked to wait: {describe(error)}", retry_after=wait
            )

    def _get_version(self, ref: VersionRef) -> m.GalleryImageVersion | None:
        try:
            return self.compute.gallery_image_versions.get(
                self.resource_group, ref.gallery, ref.definition, ref.version
            )
        except ResourceNotFoundError as error:
            if _error_code(error) == "ParentResourceNotFound":
                raise GalleryError(
                    f"cannot create version {ref}: image definition {ref.gallery}/{ref.definition} does not exist "
                    f"in resource group {self.resource_group} ({describe(error)})"
                ) from None
            return None

    def _create(self, spec: VersionSpec, replace_failed: bool) -> StartResult:
        hook = _AsyncOperationUrl()
        try:
            self.compute.gallery_image_versions.begin_create_or_update(
                self.resource_group,
                spec.gallery,
                spec.definition,
                spec.version,
                _version_body(spec),
                polling=False,  # send the PUT and return: progress is read by poll_version
                raw_response_hook=hook,
            )
        except HttpResponseError as error:
            if error.status_code != 409:
                raise
            # Any 409 is ResourceExistsError: read what is there, not the type. Azure answers 409
            # to a PUT on a version another job created since our GET (it is still being created);
            # that version is followed like one found by the GET, after the same source check.
            existing = self._get_version(spec.ref)
            if existing is None:
                raise GalleryError(f"cannot create version {spec.ref}: {describe(error)}") from None
            return self._reconcile(spec, existing, replace_failed)
        return StartResult(spec.ref, StartOutcome.STARTED, f"creating {spec.ref}", operation_url=hook.url)

    def _reconcile(
        self, spec: VersionSpec, existing: m.GalleryImageVersion, replace_failed: bool
    ) -> StartResult:
        ref = spec.ref
        source = _source_of(existing) or ""
        if redact_url(source) != redact_url(spec.source_uri):
            raise GalleryError(
                f"version {ref} already exists from another source: it was made from {redact_url(source)}, "
                f"this request is for {redact_url(spec.source_uri)}; publish under a new version (upload index)"
            )
        state = _state_of(existing)
        if state == "Succeeded":
            return StartResult(ref, StartOutcome.DONE, f"{ref} already exists from the same source")
        if state == "Deleting":
            return StartResult(
                ref, StartOutcome.DELETING, f"{ref} is being deleted; start it again when gone"
            )
        if state != "Failed":
            return StartResult(
                ref, StartOutcome.ADOPTED, f"{ref} is already being created from the same source"
            )
        if not replace_failed:
            raise GalleryError(
                f"version {ref} exists in Failed state; allow replacing failed versions to delete it and "
                "create it again, or delete it by hand"
            )
        hook = _AsyncOperationUrl()
        self.compute.gallery_image_versions.begin_delete(
            self.resource_group,
            ref.gallery,
            ref.definition,
            ref.version,
            polling=False,
            raw_response_hook=hook,
        )
        return StartResult(
            ref, StartOutcome.DELETING, f"deleting failed version {ref} before creating it again", hook.url
        )

    def _raise_for(self, error: AzureError, doing: str) -> NoReturn:
        wait = retry_after_of(error)
        if wait is not None:
            raise GalleryRetryableError(f"{doing}: {describe(error)}", wait) from None
        raise GalleryError(f"{doing}: {describe(error)}") from None
