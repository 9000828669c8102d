"""Orchestration instances: the runner's mutable record and the status it reports."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .determinism import Action
from .history import Event

STATUS_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class RuntimeStatus(enum.StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    TERMINATED = "Terminated"

    @property
    def is_terminal(self) -> bool:
        return self in (RuntimeStatus.COMPLETED, RuntimeStatus.FAILED, RuntimeStatus.TERMINATED)


class InvalidInstanceId(ValueError):
    pass


def check_instance_id(instance_id: str) -> None:
    """The extension's rules (instance ids become blob and table keys)."""
    problem = None
    if not instance_id or len(instance_id) > 256:
        problem = "must be 1 to 256 characters"
    elif any(c in instance_id for c in "/\\?#"):
        problem = "must not contain '/', '\\', '?' or '#'"
    elif instance_id.startswith("@"):
        problem = "must not start with '@'"
    elif any(ord(c) < 32 for c in instance_id):
        problem = "must not contain control characters"
    if problem:
        raise InvalidInstanceId(f"instance id {instance_id!r} {problem}")


@dataclass(frozen=True)
class InstanceStatus:
    """A snapshot of one instance, as `DurableOrchestrationClient.get_status` would see it, plus the
    runner's extras: every custom status value ever set, and the error message of a failure."""

    instance_id: str
    name: str
    runtime_status: RuntimeStatus
    input: Any
    output: Any
    error: str | None
    custom_status: Any
    custom_status_history: list[Any]
    created_time: datetime
    last_updated_time: datetime
    parent_instance_id: str | None

    def to_json(self) -> dict[str, Any]:
        """The status body the extension's HTTP API returns."""
        return {
            "name": self.name,
            "instanceId": self.instance_id,
            "runtimeStatus": self.runtime_status.value,
            "input": self.input,
            # Falsy custom status values are not reported by the extension either.
            "customStatus": self.custom_status if self.custom_status else None,
            "output": self.output,
            "createdTime": self.created_time.strftime(STATUS_TIME_FORMAT),
            "lastUpdatedTime": self.last_updated_time.strftime(STATUS_TIME_FORMAT),
        }


@dataclass
class Instance:
    instance_id: str
    name: str
    input_json: str | None
    created_time: datetime
    parent: tuple[Instance, int] | None = None  # the parent instance and its task id for this child
    status: RuntimeStatus = RuntimeStatus.PENDING
    last_updated_time: datetime | None = None
    history: list[Event] = field(default_factory=list)
    inbox: list[Event] = field(default_factory=list)
    scheduled_ids: set[int] = field(default_factory=set)
    actions: list[Action] = field(default_factory=list)
    custom_status: Any = None
    custom_status_history: list[Any] = field(default_factory=list)
    output: Any = None
    error: str | None = None

    @property
    def parent_instance_id(self) -> str | None:
        return None if self.parent is None else self.parent[0].instance_id

    def snapshot(self) -> InstanceStatus:
        return InstanceStatus(
            instance_id=self.instance_id,
            name=self.name,
            runtime_status=self.status,
            input=None if self.input_json is None else json.loads(self.input_json),
            output=self.output,
            error=self.error,
            custom_status=self.custom_status,
            custom_status_history=list(self.custom_status_history),
            created_time=self.created_time,
            last_updated_time=self.last_updated_time or self.created_time,
            parent_instance_id=self.parent_instance_id,
        )
