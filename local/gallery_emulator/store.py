"""The emulated ARM state and the rules Azure applies when resources are created and deleted.

The store takes no lock itself: whoever calls it while requests may be served holds `lock` around
the calls. The HTTP handler does, around the purge and the route of each ARM request and around
its state dump; the seed is applied before the server serves; tests hold it to read the store.
The PUT and DELETE methods and `purge` take `now` (monotonic seconds), so state advances by time;
lookups read what the last purge left; the seed's `add_*` create resources already provisioned.
Names are case-insensitive as in ARM: dictionaries are keyed by lower-cased names.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from local.gallery_emulator.arm_errors import (
    ArmError,
    check_version_name,
    invalid_body,
    parent_not_found,
    property_change_not_allowed,
    resource_group_not_found,
    resource_not_found,
)
from local.gallery_emulator.bodies import VersionRequest, parse_location, parse_tags, parse_version_request
from local.gallery_emulator.config import EmulatorConfig
from local.gallery_emulator.faults import Faults
from local.gallery_emulator.operations import OperatedResource, Operation, now_wall
from local.gallery_emulator.records import Gallery, ImageDefinition, ImageVersion
from local.gallery_emulator.regions import normalize
from local.gallery_emulator.source_check import SourceChecker
from local.gallery_emulator.timeline import OperationError, RegionReplication, VersionTimeline

REQUIRED_IMAGE_PROPERTIES = ("osType", "osState", "identifier")
FIXED_IMAGE_PROPERTIES = ("osType", "osState", "hyperVGeneration", "architecture")


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any] | None
    operation: Operation | None = None


@dataclass
class Store:
    config: EmulatorConfig
    resource_groups: set[str] = field(default_factory=set)
    galleries: dict[tuple[str, str], Gallery] = field(default_factory=dict)
    images: dict[tuple[str, str, str], ImageDefinition] = field(default_factory=dict)
    versions: dict[tuple[str, str, str, str], ImageVersion] = field(default_factory=dict)
    operations: dict[str, Operation] = field(default_factory=dict)
    source_checker: SourceChecker | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)

    # -- housekeeping ---------------------------------------------------------------------------
    def purge(self, now: float) -> None:
        """Forget resources whose deletion has finished."""
        _drop_deleted(self.versions, now)
        _drop_deleted(self.images, now)
        _drop_deleted(self.galleries, now)

    def _start_operation(
        self, kind: Literal["create", "delete"], resource: OperatedResource, location: str, now: float
    ) -> Operation:
        operation = Operation(str(uuid.uuid4()), kind, resource, location, now_wall(), now)
        self.operations[operation.operation_id] = operation
        return operation

    def operation(self, operation_id: str) -> Operation:
        found = self.operations.get(operation_id.lower())
        if found is None:
            raise ArmError(404, "OperationNotFound", f"The operation '{operation_id}' was not found.")
        return found

    # -- lookups ----------------------------------------------------------------------------------
    def _group(self, resource_group: str) -> str:
        key = resource_group.lower()
        if key not in self.resource_groups:
            raise resource_group_not_found(resource_group)
        return key

    def gallery(self, resource_group: str, name: str, *, as_parent: bool = False) -> Gallery:
        found = self.galleries.get((self._group(resource_group), name.lower()))
        if found is None:
            if as_parent:
                raise parent_not_found(name)
            raise resource_not_found("Microsoft.Compute/galleries", name, resource_group)
        return found

    def image(
        self, resource_group: str, gallery: str, name: str, *, as_parent: bool = False
    ) -> ImageDefinition:
        self.gallery(resource_group, gallery, as_parent=True)
        found = self.images.get((resource_group.lower(), gallery.lower(), name.lower()))
        if found is None:
            if as_parent:
                raise parent_not_found(f"{gallery}/{name}")
            raise resource_not_found(
                "Microsoft.Compute/galleries/images", f"{gallery}/{name}", resource_group
            )
        return found

    def version(self, resource_group: str, gallery: str, image: str, name: str) -> ImageVersion:
        self.image(resource_group, gallery, image, as_parent=True)
        found = self.versions.get((resource_group.lower(), gallery.lower(), image.lower(), name.lower()))
        if found is None:
            raise resource_not_found(
                "Microsoft.Compute/galleries/images/versions", f"{gallery}/{image}/{name}", resource_group
            )
        return found

    def list_galleries(self, resource_group: str) -> list[Gallery]:
        group = self._group(resource_group)
        return [g for (rg, _), g in sorted(self.galleries.items()) if rg == group]

    def list_images(self, resource_group: str, gallery: str) -> list[ImageDefinition]:
        parent = self.gallery(resource_group, gallery)
        return [i for key, i in sorted(self.images.items()) if i.gallery is parent]

    def list_versions(self, resource_group: str, gallery: str, image: str) -> list[ImageVersion]:
        parent = self.image(resource_group, gallery, image)
        return [v for key, v in sorted(self.versions.items()) if v.image is parent]

    # -- galleries and image definitions ----------------------------------------------------------
    def put_gallery(self, resource_group: str, name: str, body: dict[str, Any], now: float) -> Reply:
        group = self._group(resource_group)
        location = parse_location(body)
        existing = self.galleries.get((group, name.lower()))
        if existing is not None:
            existing.tags = parse_tags(body)
            existing.properties = dict(body.get("properties") or {})
            operation = self._start_operation("create", existing, existing.location, now)
            return Reply(200, None, operation)
        gallery = Gallery(
            resource_group,
            name,
            location,
            now + self.config.scaled(self.config.container_seconds),
            parse_tags(body),
            dict(body.get("properties") or {}),
        )
        self.galleries[(group, name.lower())] = gallery
        return Reply(201, None, self._start_operation("create", gallery, location, now))

    def add_gallery(self, resource_group: str, name: str, location: str) -> Gallery:
        """Seed a gallery that exists already (no operation)."""
        self.resource_groups.add(resource_group.lower())
        gallery = Gallery(resource_group, name, normalize(location), 0.0)
        self.galleries[(resource_group.lower(), name.lower())] = gallery
        return gallery

    def put_image(
        self, resource_group: str, gallery: str, name: str, body: dict[str, Any], now: float
    ) -> Reply:
        parent = self.gallery(resource_group, gallery, as_parent=True)
        properties = dict(body.get("properties") or {})
        missing = [p for p in REQUIRED_IMAGE_PROPERTIES if p not in properties]
        if missing:
            raise invalid_body(f"Required properties are missing: {', '.join(missing)}.", target=missing[0])
        key = (resource_group.lower(), gallery.lower(), name.lower())
        existing = self.images.get(key)
        if existing is not None:
            for prop in FIXED_IMAGE_PROPERTIES:
                if properties.get(prop, existing.properties.get(prop)) != existing.properties.get(prop):
                    raise property_change_not_allowed(f"galleryImage.properties.{prop}")
            existing.properties.update(properties)
            existing.tags = parse_tags(body)
            return Reply(200, None, self._start_operation("create", existing, existing.location, now))
        properties.setdefault("hyperVGeneration", "V1")
        properties.setdefault("architecture", "x64")
        image = ImageDefinition(
            parent,
            name,
            parse_location(body),
            now + self.config.scaled(self.config.container_seconds),
            properties,
            parse_tags(body),
        )
        self.images[key] = image
        return Reply(201, None, self._start_operation("create", image, image.location, now))

    def add_image(self, gallery: Gallery, name: str, properties: dict[str, Any]) -> None:
        """Seed an image definition that exists already."""
        key = (gallery.resource_group.lower(), gallery.name.lower(), name.lower())
        self.images[key] = ImageDefinition(gallery, name, gallery.location, 0.0, properties)

    # -- image versions ---------------------------------------------------------------------------
    def put_version(
        self,
        resource_group: str,
        gallery: str,
        image: str,
        name: str,
        body: dict[str, Any],
        faults: Faults,
        now: float,
    ) -> Reply:
        check_version_name(name)
        parent = self.image(resource_group, gallery, image, as_parent=True)
        request = parse_version_request(body, self.config.storage_account_id)
        key = (resource_group.lower(), gallery.lower(), image.lower(), name.lower())
        existing = self.versions.get(key)
        if existing is not None:
            return self._update_version(existing, request, now)
        timeline = self._new_timeline(request, faults, now)
        version = ImageVersion(
            image=parent,
            name=name,
            location=request.location,
            source_uri=request.source_uri,
            storage_account_id=request.storage_account_id,
            target_regions=request.target_regions,
            replica_count=request.replica_count,
            storage_account_type=request.storage_account_type,
            replication_mode=request.replication_mode,
            exclude_from_latest=request.exclude_from_latest,
            end_of_life_date=request.end_of_life_date,
            published_date=now_wall().isoformat(),
            timeline=timeline,
            host_caching=request.host_caching,
            tags=request.tags,
            allow_deletion_of_replicated_locations=request.allow_deletion_of_replicated_locations,
        )
        self.versions[key] = version
        return Reply(201, None, self._start_operation("create", version, version.location, now))

    def _new_timeline(self, request: VersionRequest, faults: Faults, now: float) -> VersionTimeline:
        validation_ends_at = now + self.config.scaled(self.config.validation_seconds)
        regions = [
            RegionReplication(
                target.region,
                validation_ends_at,
                self.config.region_duration(target.region, index),
                fails=target.region in faults.fail_regions,
            )
            for index, target in enumerate(request.target_regions)
        ]
        failure = None
        problem = self.source_checker.problem(request.source_uri) if self.source_checker else None
        if problem:
            failure = OperationError("InvalidParameter", problem)
        elif faults.fail_provisioning:
            failure = OperationError(
                "InternalExecutionError",
                "An internal execution error occurred while provisioning the image version. "
                "Delete the version and create it again.",
            )
        return VersionTimeline(now, validation_ends_at, regions, failure)

    def _update_version(self, version: ImageVersion, request: VersionRequest, now: float) -> Reply:
        state = version.provisioning_state(now)
        if state == "Deleting":
            raise ArmError(
                409,
                "OperationNotAllowed",
                f"The gallery image version '{version.name}' is being deleted; wait until the deletion "
                "has finished before creating it again.",
            )
        if state == "Failed":
            raise ArmError(
                409,
                "OperationNotAllowed",
                f"The gallery image version '{version.name}' is in Failed state and cannot be updated; "
                "delete it before creating it again.",
            )
        if request.source_uri != version.source_uri:
            raise property_change_not_allowed(
                "galleryImageVersion.properties.storageProfile.osDiskImage.source.uri"
            )
        if request.storage_account_type != version.storage_account_type:
            raise property_change_not_allowed(
                "galleryImageVersion.properties.publishingProfile.storageAccountType"
            )
        if request.replication_mode != version.replication_mode:
            raise property_change_not_allowed(
                "galleryImageVersion.properties.publishingProfile.replicationMode"
            )
        if state in ("Creating", "Updating"):
            # Our reading of Azure: a version accepts no new PUT until its running operation has ended.
            raise ArmError(
                409,
                "Conflict",
                f"The gallery image version '{version.name}' is {state.lower()} and cannot be changed until that "
                "operation has finished: wait for it to end (poll the version) instead of sending it again.",
            )
        timeline = version.timeline
        kept = {r.region: r for r in timeline.regions}
        start = now  # a Succeeded version: validation is long over
        timeline.regions = [
            kept.get(target.region)
            or RegionReplication(target.region, start, self.config.region_duration(target.region, index))
            for index, target in enumerate(request.target_regions)
        ]
        timeline.updating = True  # Updating until the new regions have caught up
        version.target_regions = request.target_regions
        version.replica_count = request.replica_count
        version.exclude_from_latest = request.exclude_from_latest
        version.end_of_life_date = request.end_of_life_date
        version.tags = request.tags
        return Reply(200, None, self._start_operation("create", version, version.location, now))

    # -- deletion ---------------------------------------------------------------------------------
    def delete_version(self, resource_group: str, gallery: str, image: str, name: str, now: float) -> Reply:
        self.image(resource_group, gallery, image, as_parent=True)
        version = self.versions.get((resource_group.lower(), gallery.lower(), image.lower(), name.lower()))
        if version is None:
            return Reply(204, None)
        if version.timeline.deleting_since is None:
            version.timeline.deleting_since = now
            version.timeline.delete_ends_at = now + self.config.scaled(self.config.delete_seconds)
        return Reply(202, None, self._start_operation("delete", version, version.location, now))

    def delete_image(self, resource_group: str, gallery: str, name: str, now: float) -> Reply:
        self.gallery(resource_group, gallery, as_parent=True)
        image = self.images.get((resource_group.lower(), gallery.lower(), name.lower()))
        if image is None:
            return Reply(204, None)
        if any(v.image is image for v in self.versions.values()):
            raise ArmError(
                409,
                "CannotDeleteResource",
                f"Can not delete resource before nested resources are deleted: image definition '{name}' "
                "still has versions.",
            )
        image.delete_ends_at = image.delete_ends_at or now + self.config.scaled(self.config.container_seconds)
        return Reply(202, None, self._start_operation("delete", image, image.location, now))

    def delete_gallery(self, resource_group: str, name: str, now: float) -> Reply:
        gallery = self.galleries.get((self._group(resource_group), name.lower()))
        if gallery is None:
            return Reply(204, None)
        if any(i.gallery is gallery for i in self.images.values()):
            raise ArmError(
                409,
                "CannotDeleteResource",
                f"Can not delete resource before nested resources are deleted: gallery '{name}' still has "
                "image definitions.",
            )
        gallery.delete_ends_at = gallery.delete_ends_at or now + self.config.scaled(
            self.config.container_seconds
        )
        return Reply(202, None, self._start_operation("delete", gallery, gallery.location, now))


class _Deletable(Protocol):
    @property
    def delete_ends_at(self) -> float | None: ...


_Key = TypeVar("_Key")
_Resource = TypeVar("_Resource", bound=_Deletable)


def _drop_deleted(table: dict[_Key, _Resource], now: float) -> None:
    for key in [k for k, r in table.items() if r.delete_ends_at is not None and now >= r.delete_ends_at]:
        del table[key]
