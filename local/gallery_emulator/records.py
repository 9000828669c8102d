"""The emulated resources (gallery, image definition, image version) and their ARM JSON bodies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from local.gallery_emulator.regions import display_name
from local.gallery_emulator.timeline import OperationError, VersionTimeline

PROVIDER = "Microsoft.Compute"


class _ReadyAfterCreation:
    """Galleries and image definitions: Creating until ready_at, Deleting once a delete began; they
    never fail (only versions do)."""

    ready_at: float
    delete_ends_at: float | None

    def provisioning_state(self, now: float) -> str:
        if self.delete_ends_at is not None:
            return "Deleting"
        return "Succeeded" if now >= self.ready_at else "Creating"

    def error(self, now: float) -> OperationError | None:
        return None


@dataclass
class Gallery(_ReadyAfterCreation):
    resource_group: str
    name: str
    location: str  # short region name
    ready_at: float
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)  # as given (description, sharing…)
    delete_ends_at: float | None = None

    def resource_id(self, subscription: str) -> str:
        return (
            f"/subscriptions/{subscription}/resourceGroups/{self.resource_group}/providers/{PROVIDER}"
            f"/galleries/{self.name}"
        )

    def body(self, subscription: str, now: float) -> dict[str, Any]:
        properties = dict(self.properties)
        properties["identifier"] = {"uniqueName": f"{subscription[:8]}-{self.name.upper()}"}
        properties["provisioningState"] = self.provisioning_state(now)
        return {
            "id": self.resource_id(subscription),
            "name": self.name,
            "type": f"{PROVIDER}/galleries",
            "location": self.location,
            "tags": self.tags,
            "properties": properties,
        }


@dataclass
class ImageDefinition(_ReadyAfterCreation):
    gallery: Gallery
    name: str
    location: str
    ready_at: float
    properties: dict[str, Any]  # osType, osState, hyperVGeneration, architecture, identifier…
    tags: dict[str, str] = field(default_factory=dict)
    delete_ends_at: float | None = None

    def resource_id(self, subscription: str) -> str:
        return f"{self.gallery.resource_id(subscription)}/images/{self.name}"

    def body(self, subscription: str, now: float) -> dict[str, Any]:
        properties = dict(self.properties)
        properties["provisioningState"] = self.provisioning_state(now)
        return {
            "id": self.resource_id(subscription),
            "name": self.name,
            "type": f"{PROVIDER}/galleries/images",
            "location": self.location,
            "tags": self.tags,
            "properties": properties,
        }


@dataclass
class TargetRegionSpec:
    region: str  # short name
    replicas: int
    storage_account_type: str
    exclude_from_latest: bool

    def body(self) -> dict[str, Any]:
        return {
            "name": display_name(self.region),
            "regionalReplicaCount": self.replicas,
            "storageAccountType": self.storage_account_type,
            "excludeFromLatest": self.exclude_from_latest,
        }


@dataclass
class ImageVersion:
    image: ImageDefinition
    name: str
    location: str
    source_uri: str
    storage_account_id: str
    target_regions: list[TargetRegionSpec]
    replica_count: int
    storage_account_type: str
    replication_mode: str
    exclude_from_latest: bool
    end_of_life_date: str | None
    published_date: str
    timeline: VersionTimeline
    host_caching: str = "ReadOnly"
    tags: dict[str, str] = field(default_factory=dict)
    allow_deletion_of_replicated_locations: bool = False

    def provisioning_state(self, now: float) -> str:
        return self.timeline.snapshot(now).provisioning_state

    def error(self, now: float) -> OperationError | None:
        return self.timeline.snapshot(now).error

    @property
    def delete_ends_at(self) -> float | None:
        return self.timeline.delete_ends_at

    def resource_id(self, subscription: str) -> str:
        return f"{self.image.resource_id(subscription)}/versions/{self.name}"

    def body(self, subscription: str, now: float, *, expand_replication: bool) -> dict[str, Any]:
        snapshot = self.timeline.snapshot(now)
        publishing: dict[str, Any] = {
            "targetRegions": [region.body() for region in self.target_regions],
            "replicaCount": self.replica_count,
            "excludeFromLatest": self.exclude_from_latest,
            "publishedDate": self.published_date,
            "storageAccountType": self.storage_account_type,
            "replicationMode": self.replication_mode,
        }
        if self.end_of_life_date:
            publishing["endOfLifeDate"] = self.end_of_life_date
        source: dict[str, Any] = {"uri": self.source_uri, "storageAccountId": self.storage_account_id}
        properties: dict[str, Any] = {
            "publishingProfile": publishing,
            "storageProfile": {"osDiskImage": {"hostCaching": self.host_caching, "source": source}},
            "safetyProfile": {
                "allowDeletionOfReplicatedLocations": self.allow_deletion_of_replicated_locations,
                "reportedForPolicyViolation": False,
            },
            "provisioningState": snapshot.provisioning_state,
        }
        if expand_replication:
            summary = []
            for region in snapshot.regions:
                entry: dict[str, Any] = {
                    "region": region.region,
                    "state": region.state,
                    "progress": region.progress,
                }
                if region.details:
                    entry["details"] = region.details
                summary.append(entry)
            properties["replicationStatus"] = {
                "aggregatedState": snapshot.aggregated_state,
                "summary": summary,
            }
        return {
            "id": self.resource_id(subscription),
            "name": self.name,
            "type": f"{PROVIDER}/galleries/images/versions",
            "location": self.location,
            "tags": self.tags,
            "properties": properties,
        }
