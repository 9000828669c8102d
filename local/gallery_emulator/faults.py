"""Faults a test injects at start or into a running emulator through its admin endpoint."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from local.gallery_emulator.arm_errors import ArmError, too_many_requests
from local.gallery_emulator.regions import is_known, normalize


@dataclass(frozen=True)
class Faults:
    fail_regions: frozenset[str] = frozenset()  # short names; replication there fails half way
    throttle_every: int = 0  # answer every Nth ARM request with 429 (0: never)
    throttle_retry_after: int = 5  # the Retry-After (seconds) sent with those 429s
    fail_provisioning: bool = False  # new versions fail after validation with an internal error
    server_error_every: int = 0  # answer every Nth ARM request with a transient 503 (0: never)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["fail_regions"] = sorted(self.fail_regions)
        return data


def parse_faults_update(current: Faults, update: dict[str, Any]) -> Faults:
    """Apply a partial update (as sent to POST /_emulator/faults); unknown keys are refused."""
    unknown = set(update) - set(Faults.__dataclass_fields__)
    if unknown:
        raise ValueError(
            f"unknown fault settings {sorted(unknown)}: use {sorted(Faults.__dataclass_fields__)}"
        )
    changes: dict[str, Any] = {}
    if "fail_regions" in update:
        regions = update["fail_regions"]
        if not isinstance(regions, list) or not all(isinstance(r, str) and is_known(r) for r in regions):
            raise ValueError("fail_regions must be a list of region names such as 'westus2' or 'West US 2'")
        changes["fail_regions"] = frozenset(normalize(r) for r in regions)
    for name in ("throttle_every", "throttle_retry_after", "server_error_every"):
        if name in update:
            value = update[name]
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a whole number >= 0")
            changes[name] = value
    if "fail_provisioning" in update:
        if not isinstance(update["fail_provisioning"], bool):
            raise ValueError("fail_provisioning must be true or false")
        changes["fail_provisioning"] = update["fail_provisioning"]
    return replace(current, **changes)


@dataclass
class FaultSwitch:
    """The current faults and the request counter that throttling counts on; thread-safe."""

    faults: Faults = field(default_factory=Faults)
    _requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def current(self) -> Faults:
        with self._lock:
            return self.faults

    def update(self, update: dict[str, Any]) -> Faults:
        with self._lock:
            self.faults = parse_faults_update(self.faults, update)
            self._requests = 0
            return self.faults

    def error_for_next_request(self) -> ArmError | None:
        """Count one ARM request; the error to answer it with when a fault says so."""
        with self._lock:
            self._requests += 1
            faults = self.faults
            if faults.throttle_every and self._requests % faults.throttle_every == 0:
                return too_many_requests(faults.throttle_retry_after)
            if faults.server_error_every and self._requests % faults.server_error_every == 0:
                return ArmError(
                    503, "ServiceUnavailable", "The service is temporarily unavailable; retry later."
                )
            return None
