"""History events in the shape the Durable Functions extension sends to the Python worker.

Field names and event type numbers are the extension's (DTFx) JSON: the SDK reads them back through
`azure.durable_functions.models.history.HistoryEvent`. Payloads (`Input`, `Result`) are JSON text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from azure.durable_functions.models.history.HistoryEventType import HistoryEventType

Event = dict[str, Any]

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def timestamp(moment: datetime) -> str:
    return moment.strftime(TIMESTAMP_FORMAT)


def _event(kind: HistoryEventType, at: datetime, event_id: int = -1, **fields: Any) -> Event:
    return {
        "EventType": int(kind),
        "EventId": event_id,
        "IsPlayed": False,
        "Timestamp": timestamp(at),
        **fields,
    }


def orchestrator_started(at: datetime) -> Event:
    return _event(HistoryEventType.ORCHESTRATOR_STARTED, at)


def orchestrator_completed(at: datetime) -> Event:
    return _event(HistoryEventType.ORCHESTRATOR_COMPLETED, at)


def execution_started(
    at: datetime, name: str, input_json: str | None, instance_id: str, parent_instance_id: str | None
) -> Event:
    # 1.7.0 reads `Version` from ExecutionStarted unconditionally: without the key it raises AttributeError.
    return _event(
        HistoryEventType.EXECUTION_STARTED,
        at,
        Name=name,
        Input=input_json,
        Version="",
        OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": instance_id},
        ParentInstance=None if parent_instance_id is None else {"InstanceId": parent_instance_id},
    )


def execution_completed(at: datetime, status: str, result_json: str | None) -> Event:
    return _event(HistoryEventType.EXECUTION_COMPLETED, at, OrchestrationStatus=status, Result=result_json)


def execution_terminated(at: datetime, reason: str) -> Event:
    return _event(HistoryEventType.EXECUTION_TERMINATED, at, Input=reason)


def task_scheduled(at: datetime, task_id: int, name: str, input_json: str | None) -> Event:
    return _event(HistoryEventType.TASK_SCHEDULED, at, task_id, Name=name, Input=input_json)


def task_completed(at: datetime, task_id: int, result_json: str) -> Event:
    return _event(HistoryEventType.TASK_COMPLETED, at, TaskScheduledId=task_id, Result=result_json)


def task_failed(at: datetime, task_id: int, reason: str, details: str) -> Event:
    return _event(HistoryEventType.TASK_FAILED, at, TaskScheduledId=task_id, Reason=reason, Details=details)


def timer_created(at: datetime, task_id: int, fire_at: datetime) -> Event:
    return _event(HistoryEventType.TIMER_CREATED, at, task_id, FireAt=timestamp(fire_at))


def timer_fired(at: datetime, task_id: int, fire_at: datetime) -> Event:
    return _event(HistoryEventType.TIMER_FIRED, at, TimerId=task_id, FireAt=timestamp(fire_at))


def sub_orchestration_created(
    at: datetime, task_id: int, name: str, instance_id: str, input_json: str | None
) -> Event:
    return _event(
        HistoryEventType.SUB_ORCHESTRATION_INSTANCE_CREATED,
        at,
        task_id,
        Name=name,
        InstanceId=instance_id,
        Input=input_json,
    )


def sub_orchestration_completed(at: datetime, task_id: int, result_json: str) -> Event:
    return _event(
        HistoryEventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED, at, TaskScheduledId=task_id, Result=result_json
    )


def sub_orchestration_failed(at: datetime, task_id: int, reason: str, details: str) -> Event:
    return _event(
        HistoryEventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
        at,
        TaskScheduledId=task_id,
        Reason=reason,
        Details=details,
    )


def event_raised(at: datetime, name: str, input_json: str | None) -> Event:
    return _event(HistoryEventType.EVENT_RAISED, at, Name=name, Input=input_json)


def is_execution_started(event: Event) -> bool:
    return bool(event["EventType"] == HistoryEventType.EXECUTION_STARTED)


def completed_task_ids(history: list[Event]) -> set[int | str]:
    """Ids of the activities, sub-orchestrations and timers whose completion is in the history, and
    the names of the external events raised (the SDK's id of a task waiting for one)."""
    done: set[int | str] = set()
    for event in history:
        kind = event["EventType"]
        if kind in _COMPLETIONS:
            done.add(int(event["TaskScheduledId"]))
        elif kind == HistoryEventType.TIMER_FIRED:
            done.add(int(event["TimerId"]))
        elif kind == HistoryEventType.EVENT_RAISED:
            done.add(str(event["Name"]))
    return done


_COMPLETIONS = (
    HistoryEventType.TASK_COMPLETED,
    HistoryEventType.TASK_FAILED,
    HistoryEventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
    HistoryEventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
)
