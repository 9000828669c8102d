"""Read the work an orchestrator is waiting for from the SDK's open tasks (azure-functions-durable 1.7.0).

Most work appears in the actions JSON, but retries do not: the SDK allocates sequence ids for the
retry timer and the next attempt while it replays the failure, and only its `context.open_tasks`
(id -> task) knows them. Reading it ties the runner to SDK internals, so the package pins 1.7.0 and
anything unrecognised here raises `SdkInternalsChanged` rather than guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from azure.durable_functions.models.actions.CallActivityAction import CallActivityAction
from azure.durable_functions.models.actions.CallActivityWithRetryAction import CallActivityWithRetryAction
from azure.durable_functions.models.actions.CallSubOrchestratorAction import CallSubOrchestratorAction
from azure.durable_functions.models.actions.CallSubOrchestratorWithRetryAction import (
    CallSubOrchestratorWithRetryAction,
)
from azure.durable_functions.models.actions.CreateTimerAction import CreateTimerAction
from azure.durable_functions.models.actions.NoOpAction import NoOpAction
from azure.durable_functions.models.actions.WaitForExternalEventAction import WaitForExternalEventAction
from azure.durable_functions.models.Task import AtomicTask, RetryAbleTask

# The NoOpAction metadata 1.7.0 gives the tasks it creates for `*_with_retry`.
RETRY_TIMER = "-WithRetry timer"
RETRY_ATTEMPT = "rescheduled task"


class SdkInternalsChanged(RuntimeError):
    """The SDK's task bookkeeping no longer looks like azure-functions-durable 1.7.0."""


class UnsupportedAction(RuntimeError):
    """The orchestrator used an API the local runner does not emulate."""


@dataclass(frozen=True)
class ActivityWork:
    task_id: int
    name: str
    input_json: str | None


@dataclass(frozen=True)
class TimerWork:
    task_id: int
    fire_at: datetime


@dataclass(frozen=True)
class SubOrchestrationWork:
    task_id: int
    name: str
    input_json: str | None
    instance_id: str | None


Work = ActivityWork | TimerWork | SubOrchestrationWork


def open_atomic_tasks(context: Any) -> dict[int, AtomicTask]:
    try:
        open_tasks = context.open_tasks
    except AttributeError as error:
        raise SdkInternalsChanged(
            "DurableOrchestrationContext.open_tasks is gone; pin azure-functions-durable==1.7.0"
        ) from error
    # `open_tasks` is a defaultdict(list): lookups leave empty lists behind; string keys are external events.
    return {
        key: task for key, task in open_tasks.items() if isinstance(key, int) and isinstance(task, AtomicTask)
    }


def new_work(context: Any, already_scheduled: set[int], now: datetime) -> list[Work]:
    """Work for every open task the runner has not scheduled yet, in sequence-id order."""
    work: list[Work] = []
    for task_id, task in sorted(open_atomic_tasks(context).items()):
        if task_id < 0 or task_id in already_scheduled:
            continue
        item = _work_for(task_id, task, now)
        if item is not None:
            work.append(item)
    return work


def cancelled_timers(context: Any) -> set[int]:
    return {
        task_id
        for task_id, task in open_atomic_tasks(context).items()
        if isinstance(task._get_action(), CreateTimerAction) and task._get_action().is_cancelled
    }


def _work_for(task_id: int, task: AtomicTask, now: datetime) -> Work | None:
    action = task._get_action()
    if isinstance(action, CallActivityAction | CallActivityWithRetryAction):
        return ActivityWork(task_id, action.function_name, action.input_)
    if isinstance(action, CallSubOrchestratorAction | CallSubOrchestratorWithRetryAction):
        return SubOrchestrationWork(task_id, action.function_name, action._input, action.instance_id)
    if isinstance(action, CreateTimerAction):
        return None if action.is_cancelled else TimerWork(task_id, action.fire_at)
    if isinstance(action, WaitForExternalEventAction):
        return None
    if isinstance(action, NoOpAction):
        return _retry_work(task_id, task, action, now)
    raise UnsupportedAction(
        f"the local durable runner does not emulate {type(action).__name__} (task {task_id}); "
        "it supports activities, timers, sub-orchestrations, retries and external events"
    )


def _retry_work(task_id: int, task: AtomicTask, action: NoOpAction, now: datetime) -> Work:
    retry = task.parent
    if (
        not isinstance(retry, RetryAbleTask)
        or not hasattr(retry, "retry_options")
        or not hasattr(retry, "actions")
    ):
        raise SdkInternalsChanged(
            f"task {task_id} ({action.metadata!r}) is not owned by a 1.7.0 RetryAbleTask; "
            "pin azure-functions-durable==1.7.0"
        )
    if action.metadata == RETRY_TIMER:
        # 1.7.0 retries at a constant interval: RetryOptions has no backoff coefficient.
        return TimerWork(
            task_id, now + timedelta(milliseconds=retry.retry_options.first_retry_interval_in_milliseconds)
        )
    if action.metadata == RETRY_ATTEMPT:
        original = retry.actions
        if isinstance(original, CallActivityWithRetryAction):
            return ActivityWork(task_id, original.function_name, original.input_)
        if isinstance(original, CallSubOrchestratorWithRetryAction):
            return SubOrchestrationWork(
                task_id, original.function_name, original._input, original.instance_id
            )
        raise SdkInternalsChanged(f"retry of an unexpected action {type(original).__name__} (task {task_id})")
    raise SdkInternalsChanged(
        f"unknown SDK-internal task {action.metadata!r} (task {task_id}); pin azure-functions-durable==1.7.0"
    )
