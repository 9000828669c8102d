"""Read and validate request bodies as ARM does, answering 400 with the property at fault."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gallery_publisher.urls import blob_account_name, redact_url
from local.gallery_emulator.arm_errors import ArmError, invalid_body
from local.gallery_emulator.records import TargetRegionSpec
from local.gallery_emulator.regions import display_name, is_known, normalize

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
    storage_account_id: str
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
    if not given:
        # Our reading: with no target regions Azure keeps the one replica set in the home region.
        return [TargetRegionSpec(location, replicas, account_type, exclude)]
    regions: list[TargetRegionSpec] = []
    for index, item in enumerate(given):
        path = f"properties.publishingProfile.targetRegions[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not is_known(item["name"]):
            name = item.get("name") if isinstance(item, dict) else item
            raise ArmError(
                400,
                "LocationNotAvailableForResourceType",
                f"The provided location '{name}' is not available for resource type "
                "'Microsoft.Compute/galleries/images/versions'.",
                target=f"{path}.name",
            )
        region = normalize(item["name"])
        if any(r.region == region for r in regions):
            raise invalid_body(
                "Duplicate regions are not allowed in target publishing regions.", f"{path}.name"
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
        names = ", ".join(display_name(r.region) for r in regions)
        raise invalid_body(
            f"Gallery image version publishing profile regions {names} must contain the location of image "
            f"version {display_name(location)}.",
            target="galleryImageVersion.properties.publishingProfile.targetRegions",
        )
    return regions


def _check_shallow(mode: str, regions: list[TargetRegionSpec], location: str) -> None:
    """Shallow replication copies nothing: the version stays in its home region, one replica."""
    if mode != "Shallow":
        return
    if [(r.region, r.replicas) for r in regions] != [(location, 1)]:
        asked = ", ".join(f"{display_name(r.region)}={r.replicas}" for r in regions)
        raise invalid_body(
            f"Shallow replication is only supported for the location of the image version "
            f"({display_name(location)}) with a regional replica count of 1, but the target regions are "
            f"{asked}. Use replicationMode Full to replicate to other regions.",
            target="galleryImageVersion.properties.publishingProfile.replicationMode",
        )


_STORAGE_ACCOUNT_ID = re.compile(
    r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Storage/storageAccounts/([a-z0-9]{3,24})",
    re.IGNORECASE,
)
_SOURCE = "properties.storageProfile.osDiskImage.source"


def _blob_source(source: dict[str, Any], known_account_id: str) -> tuple[str, str]:
    """The VHD `uri` and its `storageAccountId`, which must name the account the blob is in."""
    uri = source.get("uri")
    if not isinstance(uri, str) or not uri.startswith(("http://", "https://")):
        raise invalid_body(
            f"The source of the OS disk image is missing: set {_SOURCE}.uri to the VHD's blob URI.",
            target=f"{_SOURCE}.uri",
        )
    if source.get("id"):
        raise invalid_body(
            f"{_SOURCE}.id names a managed image, snapshot, disk or version; a VHD source is given by uri and "
            "storageAccountId only. Remove source.id.",
            target=f"{_SOURCE}.id",
        )
    account_id = source.get("storageAccountId")
    if not isinstance(account_id, str) or not account_id:
        raise invalid_body(
            f"Required parameter '{_SOURCE}.storageAccountId' is missing (null): a VHD source needs the resource "
            "id of the storage account that holds the blob.",
            target=f"{_SOURCE}.storageAccountId",
        )
    match = _STORAGE_ACCOUNT_ID.fullmatch(account_id)
    if match is None:
        raise invalid_body(
            f"Property storageAccountId '{account_id}' at path '{_SOURCE}.storageAccountId' is invalid. Expect "
            "a storage account resource id: /subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}"
            "/providers/Microsoft.Storage/storageAccounts/{account}.",
            target=f"{_SOURCE}.storageAccountId",
        )
    uri_account = blob_account_name(uri)
    if uri_account != match.group(1).lower():
        raise invalid_body(
            f"The source blob {redact_url(uri)} is in storage account '{uri_account}', but storageAccountId "
            f"names '{match.group(1)}': set storageAccountId to the account that holds the blob.",
            target=f"{_SOURCE}.storageAccountId",
        )
    if account_id.lower() != known_account_id.lower():
        raise invalid_body(
            f"The storage account '{account_id}' was not found: the account holding the source blob is "
            f"'{known_account_id}'.",
            target=f"{_SOURCE}.storageAccountId",
        )
    return uri, account_id


def parse_version_request(body: dict[str, Any], storage_account_id: str) -> VersionRequest:
    """The version a PUT asks for; `storage_account_id` is the one storage account this emulator knows."""
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
    uri, account_id = _blob_source(_object(os_disk, "source", _SOURCE), storage_account_id)
    publishing = _object(properties, "publishingProfile", "properties.publishingProfile")
    replicas = _replicas(publishing.get("replicaCount", 1), "properties.publishingProfile.replicaCount")
    account_type = _choice(
        publishing.get("storageAccountType", "Standard_LRS"),
        STORAGE_ACCOUNT_TYPES,
        "properties.publishingProfile.storageAccountType",
    )
    exclude = bool(publishing.get("excludeFromLatest", False))
    mode = _choice(
        publishing.get("replicationMode", "Full"),
        REPLICATION_MODES,
        "properties.publishingProfile.replicationMode",
    )
    regions = _target_regions(publishing, location, replicas, account_type, exclude)
    _check_shallow(mode, regions, location)
    safety = _object(properties, "safetyProfile", "properties.safetyProfile")
    end_of_life = publishing.get("endOfLifeDate")
    return VersionRequest(
        location=location,
        tags=parse_tags(body),
        source_uri=uri,
        storage_account_id=account_id,
        host_caching=_choice(os_disk.get("hostCaching", "ReadOnly"), HOST_CACHING, "hostCaching"),
        target_regions=regions,
        replica_count=replicas,
        storage_account_type=account_type,
        replication_mode=mode,
        exclude_from_latest=exclude,
        end_of_life_date=str(end_of_life) if end_of_life else None,
        allow_deletion_of_replicated_locations=bool(safety.get("allowDeletionOfReplicatedLocations", False)),
    )
