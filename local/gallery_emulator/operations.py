"""Long-running operations: the status resources behind Azure-AsyncOperation and Location URLs.

An operation holds no state of its own: its status is read from the resource it acts on, whose
state is a function of time, so polling faster or slower never changes the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from local.gallery_emulator.timeline import OperationError


class OperatedResource(Protocol):
    def provisioning_state(self, now: float) -> str: ...

    def error(self, now: float) -> OperationError | None: ...

    @property
    def delete_ends_at(self) -> float | None: ...


@dataclass
class Operation:
    operation_id: str
    kind: Literal["create", "delete"]
    resource: OperatedResource
    location: str
    started_wall: datetime
    started_at: float  # monotonic

    def _wall(self, at: float) -> str:
        return (self.started_wall + timedelta(seconds=max(0.0, at - self.started_at))).isoformat()

    def status(self, now: float) -> tuple[str, OperationError | None]:
        if self.kind == "delete":
            ends_at = self.resource.delete_ends_at
            return ("Succeeded" if ends_at is not None and now >= ends_at else "InProgress"), None
        state = self.resource.provisioning_state(now)
        if state == "Succeeded":
            return "Succeeded", None
        if state == "Failed":
            return "Failed", self.resource.error(now)
        if state == "Deleting":
            return "Canceled", OperationError(
                "OperationCanceled", "The resource was deleted while being created."
            )
        return "InProgress", None

    def body(self, now: float) -> dict[str, Any]:
        status, error = self.status(now)
        body: dict[str, Any] = {
            "startTime": self.started_wall.isoformat(),
            "status": status,
            "name": self.operation_id,
        }
        if status != "InProgress":
            body["endTime"] = self._wall(now)  # when it was first seen ended: close enough for clients
        if error is not None:
            body["error"] = {"code": error.code, "message": error.message}
        return body


def now_wall() -> datetime:
    return datetime.now(UTC)
