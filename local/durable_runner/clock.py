"""The orchestration clock: virtual (tests, timers fire instantly) or real time scaled (local run).

The history is the orchestration's clock (`context.current_utc_datetime` is the timestamp of the latest
OrchestratorStarted event), so the runner only has to choose what "now" means when it writes events.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

# A fixed origin keeps virtual-clock histories identical from run to run.
VIRTUAL_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass
class VirtualClock:
    """Time stands still while work runs and jumps to the next timer when nothing else is left."""

    current: datetime = VIRTUAL_EPOCH
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.current.tzinfo is None:
            raise ValueError("VirtualClock needs a timezone-aware start time, e.g. datetime(..., tzinfo=UTC)")

    def now(self) -> datetime:
        with self._lock:
            return self.current

    def advance_to(self, moment: datetime) -> None:
        with self._lock:
            self.current = max(self.current, moment)


@dataclass
class ScaledClock:
    """Real time, sped up: one orchestration second lasts `scale` real seconds (1.0 is real time).

    Use the same scale as the emulators the activities talk to, so their latencies and the
    orchestrator's durable timers stay in proportion.
    """

    scale: float = 1.0
    origin: datetime = field(default_factory=lambda: datetime.now(UTC))
    _started: float = field(default_factory=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        if not self.scale > 0:
            raise ValueError(
                f"ScaledClock scale must be > 0 (real seconds per orchestration second), got {self.scale}"
            )

    def now(self) -> datetime:
        return self.origin + timedelta(seconds=(time.monotonic() - self._started) / self.scale)

    def real_seconds_until(self, moment: datetime) -> float:
        return max(0.0, (moment - self.now()).total_seconds() * self.scale)


Clock = VirtualClock | ScaledClock
