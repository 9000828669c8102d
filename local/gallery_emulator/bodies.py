"""Read and validate request bodies as ARM does, answering 400 with the property at fault."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from local.gallery_emulator.arm_errors import ArmError, invalid_body
from local.gallery_emulator.records import TargetRegionSpec
from local.gallery_emulator.regions import is_known, normalize

STORAGE_ACCOUNT_TYPES = ("Standard_LRS", "Standard_ZRS", "Premium_LRS")
REPLICATION_MODES = ("Full", "Shallow")
HOST_CACHING = ("None", "ReadOnly", "ReadWrite")


def parse_location(body: dict[str, Any]) -> str:
    location = body.get("location")
    if not isinstance(location, str) or not location:
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    if not is_known(location):
        raise ArmError(
            400,
            "LocationNotAvailableForResourceType",
            f"The provided location '{location}' is not available for resource type "
            "'Microsoft.Compute/galleries'.",
        )
    return normalize(location)


def parse_tags(body: dict[str, Any]) -> dict[str, str]:
    tags = body.get("tags") or {}
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise invalid_body("tags must be an object of string values.", target="tags")
    return {str(k): v for k, v in tags.items()}


@dataclass(frozen=True)
class VersionRequest:
    location: str
    tags: dict[str, str]
    source_uri: str
    storage_account_id: str | None
    host_caching: str
    target_regions: list[TargetRegionSpec]
    replica_count: int
    storage_account_type: str
    replication_mode: str
    exclude_from_latest: bool
    end_of_life_date: str | None
    allow_deletion_of_replicated_locations: bool


def _object(parent: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    value = parent.get(key) or {}
    if not isinstance(value, dict):
        raise invalid_body(f"'{path}' must be an object.", target=path)
    return value


def _choice(value: Any, choices: tuple[str, ...], path: str) -> str:
    if value not in choices:
        raise invalid_body(
            f"The value '{value}' of '{path}' is not valid: use one of {', '.join(choices)}.", path
        )
    return str(value)


def _replicas(value: Any, path: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100:
        raise invalid_body(f"'{path}' must be a whole number from 1 to 100.", target=path)
    return value


def _target_regions(
    publishing: dict[str, Any], location: str, replicas: int, account_type: str, exclude: bool
) -> list[TargetRegionSpec]:
    given = publishing.get("targetRegions") or []
    if not isinstance(given, list):
        raise invalid_body("'properties.publishingProfile.targetRegions' must be a list.", "targetRegions")
    regions: list[TargetRegionSpec] = []
    for index, item in enumerate(given):
        path = f"properties.publishingProfile.targetRegions[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not is_known(item["name"]):
            raise invalid_body(
                f"'{path}.name' is not a region this gallery can replicate to.", f"{path}.name"
            )
        region = normalize(item["name"])
        if any(r.region == region for r in regions):
            raise invalid_body(
                f"The region '{item['name']}' is listed twice in targetRegions.", f"{path}.name"
            )
        regions.append(
            TargetRegionSpec(
                region,
                _replicas(item.get("regionalReplicaCount", replicas), f"{path}.regionalReplicaCount"),
                _choice(
                    item.get("storageAccountType", account_type),
                    STORAGE_ACCOUNT_TYPES,
                    f"{path}.storageAccountType",
                ),
                bool(item.get("excludeFromLatest", exclude)),
            )
        )
    if not any(r.region == location for r in regions):
        # Azure always keeps a replica in the version's own region.
        regions.insert(0, TargetRegionSpec(location, replicas, account_type, exclude))
    return regions


def parse_version_request(body: dict[str, Any]) -> VersionRequest:
    location = parse_location(body)
    properties = _object(body, "properties", "properties")
    storage = _object(properties, "storageProfile", "properties.storageProfile")
    if "uri" in _object(storage, "source", "properties.storageProfile.source"):
        raise ArmError(
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized: 'Could not find member 'uri' on "
            "object of type 'GalleryArtifactVersionFullSource'. Path 'properties.storageProfile.source.uri''. "
            "A VHD source goes under properties.storageProfile.osDiskImage.source.",
        )
    os_disk = _object(storage, "osDiskImage", "properties.storageProfile.osDiskImage")
    source = _object(os_disk, "source", "properties.storageProfile.osDiskImage.source")
    uri = source.get("uri")
    if not isinstance(uri, str) or not uri.startswith(("http://", "https://")):
        raise invalid_body(
            "The source of the OS disk image is missing: set properties.storageProfile.osDiskImage.source.uri "
            "to the VHD's blob URI.",
            target="properties.storageProfile.osDiskImage.source.uri",
        )
    publishing = _object(properties, "publishingProfile", "properties.publishingProfile")
    replicas = _replicas(publishing.get("replicaCount", 1), "properties.publishingProfile.replicaCount")
    account_type = _choice(
        publishing.get("storageAccountType", "Standard_LRS"),
        STORAGE_ACCOUNT_TYPES,
        "properties.publishingProfile.storageAccountType",
    )
    exclude = bool(publishing.get("excludeFromLatest", False))
    safety = _object(properties, "safetyProfile", "properties.safetyProfile")
    end_of_life = publishing.get("endOfLifeDate")
    return VersionRequest(
        location=location,
        tags=parse_tags(body),
        source_uri=uri,
        storage_account_id=source.get("storageAccountId"),
        host_caching=_choice(os_disk.get("hostCaching", "ReadOnly"), HOST_CACHING, "hostCaching"),
        target_regions=_target_regions(publishing, location, replicas, account_type, exclude),
        replica_count=replicas,
        storage_account_type=account_type,
        replication_mode=_choice(
            publishing.get("replicationMode", "Full"),
            REPLICATION_MODES,
            "properties.publishingProfile.replicationMode",
        ),
        exclude_from_latest=exclude,
        end_of_life_date=str(end_of_life) if end_of_life else None,
        allow_deletion_of_replicated_locations=bool(safety.get("allowDeletionOfReplicatedLocations", False)),
    )
