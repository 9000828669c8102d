"""The life of an image version as a function of time, so state advances by the clock, not by polls.

A version is validated (source check, copy to the home region), then replicates to every target
region in parallel. A region set to fail stops half way; the version ends when every region has
ended, Failed if any region failed.
"""

from __future__ import annotations

from dataclasses import dataclass

from local.gallery_emulator.regions import display_name


@dataclass(frozen=True)
class OperationError:
    code: str
    message: str


@dataclass
class RegionReplication:
    region: str  # short name
    starts_at: float  # monotonic seconds
    duration: float
    fails: bool = False

    def ends_at(self) -> float:
        return self.starts_at + (self.duration / 2 if self.fails else self.duration)


@dataclass(frozen=True)
class RegionSnapshot:
    region: str  # display name
    state: str  # Unknown, Replicating, Completed, Failed
    progress: int
    details: str | None = None


@dataclass(frozen=True)
class VersionSnapshot:
    provisioning_state: str
    aggregated_state: str
    regions: tuple[RegionSnapshot, ...]
    error: OperationError | None
    ended_at: float | None  # when the running operation ended, if it has


@dataclass
class VersionTimeline:
    created_at: float
    validation_ends_at: float
    regions: list[RegionReplication]
    # Decided when the version is created: a bad source or an injected provisioning fault.
    failure: OperationError | None = None
    updating: bool = False  # a re-PUT of a Succeeded version: "Updating" until regions catch up
    deleting_since: float | None = None
    delete_ends_at: float | None = None

    def _region(self, replication: RegionReplication, now: float) -> RegionSnapshot:
        name = display_name(replication.region)
        elapsed = now - replication.starts_at
        if elapsed <= 0:
            return RegionSnapshot(name, "Replicating", 0)
        if replication.fails and now >= replication.ends_at():
            return RegionSnapshot(
                name,
                "Failed",
                50,
                f"Replication to region {name} failed: the replication job ended with an internal error. "
                "Delete the version and create it again.",
            )
        if now >= replication.ends_at():
            return RegionSnapshot(name, "Completed", 100)
        return RegionSnapshot(name, "Replicating", min(99, int(100 * elapsed / replication.duration)))

    def snapshot(self, now: float) -> VersionSnapshot:
        if self.deleting_since is not None:
            return VersionSnapshot("Deleting", "Unknown", (), None, None)
        if now < self.validation_ends_at:
            pending = tuple(RegionSnapshot(display_name(r.region), "Unknown", 0) for r in self.regions)
            return VersionSnapshot("Creating", "InProgress", pending, None, None)
        if self.failure is not None:
            failed = tuple(
                RegionSnapshot(display_name(r.region), "Failed", 0, self.failure.message)
                for r in self.regions
            )
            return VersionSnapshot("Failed", "Failed", failed, self.failure, self.validation_ends_at)
        regions = tuple(self._region(r, now) for r in self.regions)
        if any(r.state == "Replicating" for r in regions):
            state = "Updating" if self.updating else "Creating"
            return VersionSnapshot(state, "InProgress", regions, None, None)
        ended_at = max((r.ends_at() for r in self.regions), default=self.validation_ends_at)
        failed_regions = [r.region for r in regions if r.state == "Failed"]
        if failed_regions:
            error = OperationError(
                "GalleryReplicationFailed",
                "Gallery replication jobs failed in one or more regions: "
                + ", ".join(failed_regions)
                + ". The version stays Failed: delete it before creating it again.",
            )
            return VersionSnapshot("Failed", "Failed", regions, error, ended_at)
        return VersionSnapshot("Succeeded", "Completed", regions, None, ended_at)
