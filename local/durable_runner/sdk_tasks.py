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
from azure.durable_functions.models.Task import (
    AtomicTask,
    LongTimerTask,
    RetryAbleTask,
    TaskBase,
    TaskState,
    WhenAllTask,
    WhenAnyTask,
)

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


@dataclass(frozen=True)
class Decision:
    """What the extension does with an episode: the work to schedule now, and whether the orchestrator's
    output or failure may be applied (every action it yielded has finished, and no task is open)."""

    work: list[Work]
    settled: bool


def replay_actions(
    context: Any, already_scheduled: set[int], completed: set[int | str], now: datetime
) -> Decision:
    """Play the orchestrator's actions as the extension's out-of-process shim does (schema V3).

    The shim invokes the yielded actions in order and awaits each one before invoking the next, so work
    of an action after one still running is not scheduled yet, and the orchestrator's output or failure
    is applied only after all of them have finished (awaiting a failed one is fine: the shim ignores
    its exception). DurableTask.Core then completes the instance only when no task is open: a timer
    that lost a task_any still has to fire, unless it was cancelled.

    The SDK stops reading the history once the orchestrator has returned or raised, so what finished
    after that is known only from the history: `completed` holds the ids with a completion event.
    Our approximation: a retry chain still running when the orchestrator ended counts as finished
    once its current attempt or timer has (the SDK no longer allocates ids for further attempts).
    """
    by_root: dict[int, list[tuple[int, AtomicTask]]] = {}
    for task_id, task in sorted(open_atomic_tasks(context).items()):
        if task_id >= 0:
            by_root.setdefault(id(_root(task)), []).append((task_id, task))
    work: list[Work] = []
    scheduled = set(already_scheduled)
    all_finished = True
    for yielded in _yielded_tasks(context):
        for task_id, task in by_root.get(id(yielded), []):
            if task_id not in scheduled:
                item = _work_for(task_id, task, now)
                if item is not None:
                    work.append(item)
                scheduled.add(task_id)
        if not _finished(yielded, completed):
            all_finished = False
            break
    still_open = any(
        task_id in scheduled and task_id not in completed and not _is_cancelled_timer(task)
        for tasks in by_root.values()
        for task_id, task in tasks
    )
    return Decision(work=work, settled=all_finished and not still_open)


def _yielded_tasks(context: Any) -> list[TaskBase]:
    tasks = getattr(context, "yielded_tasks", None)
    if tasks is None:
        raise TypeError("replay_actions needs the runner's RecordingContext (replay.py)")
    return list(tasks)


def _root(task: TaskBase) -> TaskBase:
    while task.parent is not None:
        task = task.parent
    return task


def _is_cancelled_timer(task: TaskBase) -> bool:
    action = task._get_action() if isinstance(task, AtomicTask) else None
    return isinstance(action, CreateTimerAction) and bool(action.is_cancelled)


def _finished(task: TaskBase, completed: set[int | str]) -> bool:
    """Whether the .NET task the shim makes of this one has completed (Task.WhenAll waits for every
    child, even after one failed; Task.WhenAny for one; a cancelled timer's task is cancelled)."""
    if _is_cancelled_timer(task):
        return True
    ended = task.state is not TaskState.RUNNING
    if isinstance(task, AtomicTask):
        return ended or task.id in completed
    if isinstance(task, RetryAbleTask | LongTimerTask):
        return ended or all(_finished(child, completed) for child in _open_descendants(task))
    if isinstance(task, WhenAnyTask):
        return ended or any(_finished(child, completed) for child in task.children)
    if isinstance(task, WhenAllTask):
        # Not `ended`: the SDK fails a task_all at its first failure, .NET's WhenAll waits for all.
        return all(_finished(child, completed) for child in task.children)
    return ended


def _open_descendants(task: TaskBase) -> list[TaskBase]:
    """The attempts and timers a retry (or long timer) is waiting for."""
    pending = getattr(task, "pending_tasks", None)
    if pending is None:
        raise SdkInternalsChanged("CompoundTask.pending_tasks is gone; pin azure-functions-durable==1.7.0")
    return [child for child in pending if child.state is TaskState.RUNNING]


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
        or not hasattr(retry, "num_attempts")
    ):
        raise SdkInternalsChanged(
            f"task {task_id} ({action.metadata!r}) is not owned by a 1.7.0 RetryAbleTask; "
            "pin azure-functions-durable==1.7.0"
        )
    if action.metadata == RETRY_TIMER:
        if retry.num_attempts >= retry.retry_options.max_number_of_attempts:
            # After the last failed attempt DurableTask.Core (2.7+) keeps the timer the SDK waits for
            # (replay compatibility) but makes it fire at once rather than one interval later.
            return TimerWork(task_id, now)
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
