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

from .app_functions import RegisteredOrchestrator
from .history import Event
from .worker import FunctionFailed

# How the SDK appends the orchestrator state to the exception it raises when the orchestrator fails.
OUT_OF_PROC_LABEL = "\n\n$OutOfProcData$:"


class RecordingContext(DurableOrchestrationContext):  # type: ignore[misc]
    """The SDK context, also keeping every custom status value (the state JSON reports only the last)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.custom_status_values: list[Any] = []

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
