"""The small records the gallery client takes and returns.

They stay inside an activity: what crosses to the orchestrators is a gallery_publisher.jobs.messages record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from gallery_publisher.planning.families import DefinitionSpec
from gallery_publisher.planning.settings import TargetRegion
from gallery_publisher.urls import redact_url

TAG_VALUE_LIMIT = 256  # Azure's limit for a tag value


@dataclass(frozen=True)
class VersionRef:
    gallery: str
    definition: str
    version: str

    def __str__(self) -> str:
        return f"{self.gallery}/{self.definition}/{self.version}"


@dataclass(frozen=True)
class VersionSpec:
    """Everything one image version is created with."""

    gallery: str
    definition: str
    version: str
    location: str  # the gallery's region; a version lives where its gallery does
    source_uri: str
    storage_account_id: str
    target_regions: tuple[TargetRegion, ...]
    storage_account_type: str = "Standard_LRS"
    end_of_life_date: str | None = None  # ISO date
    exclude_from_latest: bool = False
    replication_mode: str = "Full"
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> VersionRef:
        return VersionRef(self.gallery, self.definition, self.version)


def publish_tags(source_url: str, md5: str, tool_version: str) -> dict[str, str]:
    """The tags a version carries: where it came from (no query string), its MD5, the tool version."""
    source = redact_url(source_url)
    if len(source) > TAG_VALUE_LIMIT:
        source = "…" + source[-(TAG_VALUE_LIMIT - 1) :]
    return {"source": source, "md5": md5, "gallery-publisher": tool_version}


class StartOutcome(StrEnum):
    STARTED = "started"  # the create was accepted; poll it
    ADOPTED = "adopted"  # the same version from the same source is being created already; poll it
    DONE = "done"  # the same version from the same source exists and has succeeded
    DELETING = "deleting"  # a failed version is being deleted; call start_version again later
    RETRY = "retry"  # throttled or a transient error: call again after retry_after seconds


@dataclass(frozen=True)
class StartResult:
    ref: VersionRef
    outcome: StartOutcome
    message: str
    operation_url: str | None = None
    retry_after: float | None = None


class PollOutcome(StrEnum):
    IN_PROGRESS = "in_progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    MISSING = "missing"  # no such version (deleted, or never created)
    RETRY = "retry"


@dataclass(frozen=True)
class RegionStatus:
    region: str  # display name, as Azure reports it
    state: str  # Unknown, Replicating, Completed, Failed
    progress: int
    details: str | None = None


@dataclass(frozen=True)
class VersionStatus:
    ref: VersionRef
    outcome: PollOutcome
    provisioning_state: str | None = None
    aggregated_state: str | None = None
    regions: tuple[RegionStatus, ...] = ()
    error_code: str | None = None
    error_message: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class VersionSummary:
    name: str
    provisioning_state: str | None
    source_uri: str | None  # without query string


@dataclass(frozen=True)
class DefinitionTarget:
    """An image definition a plan publishes into, with the properties the family requires."""

    gallery: str
    definition: DefinitionSpec


@dataclass(frozen=True)
class DefinitionInfo:
    """An image definition as it exists in the gallery."""

    gallery: str
    name: str
    location: str
    hyper_v_generation: str
    architecture: str
