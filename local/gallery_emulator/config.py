"""The emulator's settings: simulated durations (realistic by default) and their time scale."""

from __future__ import annotations

from dataclasses import dataclass, field

from gallery_publisher.planning.settings import load_settings
from local.gallery_emulator.regions import normalize


def app_default_storage_account_id() -> str:
    """What the app sends as storageAccountId when GALLERY_PUBLISHER_STORAGE_ACCOUNT_ID is not set."""
    return load_settings({}).storage_account_id


@dataclass(frozen=True)
class EmulatorConfig:
    # Multiplies every simulated duration: 0.01 runs a hundred times faster than Azure.
    time_scale: float = 1.0
    # Before replication starts Azure validates the source and copies it to the home region.
    validation_seconds: float = 120.0
    # Regions replicate in parallel; without an override region i of a version takes
    # region_seconds * (1 + region_stagger * i), so the regions finish one after another.
    region_seconds: float = 600.0
    region_stagger: float = 0.2
    region_overrides: dict[str, float] = field(default_factory=dict)  # short region name -> seconds
    delete_seconds: float = 60.0
    container_seconds: float = 15.0  # galleries and image definitions
    lro_retry_after_seconds: float = 60.0  # what Azure sends on PUT/DELETE and running operations
    page_size: int = 100
    storage_connection_string: str | None = field(default=None, repr=False)
    # The resource id of the one storage account the emulator knows (the one holding the VHDs): a
    # version's source.storageAccountId must name it.
    storage_account_id: str = field(default_factory=app_default_storage_account_id)

    def scaled(self, seconds: float) -> float:
        return seconds * self.time_scale

    def region_duration(self, region: str, index: int) -> float:
        override = self.region_overrides.get(normalize(region))
        seconds = (
            override if override is not None else self.region_seconds * (1 + self.region_stagger * index)
        )
        return self.scaled(seconds)

    def retry_after_header(self) -> str:
        # The SDK reads Retry-After as whole seconds; never 0, which it would ignore.
        return str(max(1, round(self.scaled(self.lro_retry_after_seconds))))
