"""One orchestrator episode: replay the history through the real SDK engine and read its decision.

The context JSON is what the extension sends to the Python worker (notes: upperSchemaVersion 1 with
upperSchemaVersionNew 2 selects replay schema V3). The episode goes through the worker's invocation
(worker.py): it decodes that JSON with OrchestrationTriggerConverter and encodes the returned state as
JSON. In place of the registered `Orchestrator.create(fn)` handle the worker calls `episode`, which does
what that handle does but keeps the SDK context, because the runner needs it afterwards: its open tasks
(retries, see sdk_tasks.py) and every custom status set during the episode.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from azure.durable_functions import DurableOrchestrationContext, Orchestrator
from azure.durable_functions.models.Task import TaskBase

from .app_functions import RegisteredOrchestrator
from .history import Event
from .worker import FunctionFailed

# The extension's limit on custom status (DurableOrchestrationContext.SetCustomStatus).
CUSTOM_STATUS_LIMIT_KB = 16

# How the SDK appends the orchestrator state to the exception it raises when the orchestrator fails.
OUT_OF_PROC_LABEL = "\n\n$OutOfProcData$:"


class RecordingContext(DurableOrchestrationContext):  # type: ignore[misc]
    """The SDK context, also keeping every custom status value (the state JSON reports only the last)
    and every task the orchestrator yielded, in order (the extension replays those, see sdk_tasks.py)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.custom_status_values: list[Any] = []
        self.yielded_tasks: list[TaskBase] = []

    def _add_to_open_tasks(self, task: TaskBase) -> None:
        # The SDK calls this for each task the orchestrator yields (parent None), and for their children
        # and retry attempts (parent set). Only the yielded ones become actions.
        if task.parent is None and not task._is_scheduled and all(t is not task for t in self.yielded_tasks):
            self.yielded_tasks.append(task)
        super()._add_to_open_tasks(task)

    def set_custom_status(self, status: Any) -> None:
        # A copy: orchestrators often mutate one dict and set it again.
        self.custom_status_values.append(copy.deepcopy(status))
        super().set_custom_status(status)


@dataclass
class Episode:
    context: RecordingContext
    state: dict[str, Any]
    error: str | None  # the orchestrator raised: its message

    @property
    def is_done(self) -> bool:
        return bool(self.state.get("isDone"))


def context_json(
    history: list[Event], input_json: str | None, instance_id: str, parent_instance_id: str | None
) -> str:
    return json.dumps(
        {
            "history": history,
            "input": input_json,
            "instanceId": instance_id,
            "isReplaying": False,
            "parentInstanceId": parent_instance_id,
            "upperSchemaVersion": 1,
            "upperSchemaVersionNew": 2,
            "maximumShortTimerDuration": "6.00:00:00",
            "longRunningTimerIntervalDuration": "3.00:00:00",
        }
    )


def run_episode(orchestrator: RegisteredOrchestrator, context_body: str) -> Episode:
    contexts: list[RecordingContext] = []

    def episode(**trigger: Any) -> str:
        [decoded] = trigger.values()  # the worker's OrchestrationContext: the JSON text in `body`
        context = RecordingContext.from_json(decoded.body)
        # What the registered handle does with `@orchestration_trigger(input_type=...)`.
        context._input_expected_type = orchestrator.input_type
        contexts.append(context)
        state: str = Orchestrator(orchestrator.generator_function).handle(context)
        return state

    try:
        state_json = orchestrator.invoke(context_body, episode)
    except FunctionFailed as failure:
        message, label, state_text = failure.message.partition(OUT_OF_PROC_LABEL)
        if not label or not contexts:
            raise  # not the orchestrator's failure: the SDK itself rejected the history
        # The worker reports "Exception: <text>"; the runner records the text, as it always has.
        error = message.removeprefix(f"{Exception.__name__}: ")
        return Episode(context=contexts[0], state=json.loads(state_text), error=error)
    return Episode(context=contexts[0], state=json.loads(state_json), error=None)


def custom_status_size_error(custom_status: Any) -> str | None:
    """The error the extension raises for a custom status over 16 KB, or None when it fits.

    Read in azure-functions-durable-extension: the out-of-process shim calls `SetCustomStatus` with the
    state's `customStatus` when it is not null, which serializes it (Newtonsoft, no indentation,
    non-ASCII kept) and measures it as UTF-16, in whole KB rounded down, as Azure Storage keeps
    strings: only over 16 such KB is refused. Documented: "custom status ... limited to 16 KB".
    """
    if custom_status is None:
        return None
    text = json.dumps(custom_status, ensure_ascii=False, separators=(",", ":"))
    size_kb = len(text.encode("utf-16-le")) // 1024
    if size_kb <= CUSTOM_STATUS_LIMIT_KB:
        return None
    return (
        f"The UTF-16 size of the JSON-serialized payload must not exceed {CUSTOM_STATUS_LIMIT_KB:,} KB. "
        f"The current payload size is {size_kb:,} KB."
    )
