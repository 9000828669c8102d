"""The app's functions as the host knows them after the worker indexed them: name, trigger, bindings.

The worker (worker.py) indexes and checks the app (`app.get_functions()` can be called once per app);
`discover` sorts its functions by trigger. Activities and the other functions are called through the
worker only: JSON text (or the host's typed data) in, the worker's encoded value out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .worker import LanguageWorker, TypedData, json_data, json_of

ORCHESTRATION_TRIGGER = "orchestrationTrigger"
ACTIVITY_TRIGGER = "activityTrigger"
HTTP_TRIGGER = "httpTrigger"
DURABLE_CLIENT = "durableClient"


@dataclass(frozen=True)
class RegisteredOrchestrator:
    """`invoke(context_json, episode)`: the worker decodes the context JSON (OrchestrationTriggerConverter),
    calls `episode(<context parameter>=...)` in place of the SDK's registered handle, and encodes the state
    it returns; the JSON text of that state comes back (`FunctionFailed` when the episode raised)."""

    name: str
    generator_function: Callable[..., Any]
    input_type: type | None
    invoke: Callable[[str, Callable[..., str]], str]


@dataclass(frozen=True)
class RegisteredActivity:
    """`invoke(input_json)` calls the activity through the worker and returns its result as JSON text;
    it raises `FunctionFailed` when the function (or the worker's encode) failed."""

    name: str
    invoke: Callable[[str | None], str]


@dataclass(frozen=True)
class RegisteredFunction:
    """Any other function (HTTP, blob, Event Grid, ...): called through the worker with its trigger data."""

    name: str
    trigger_type: str
    trigger_name: str
    trigger: dict[str, Any]
    durable_client_name: str | None
    auth_level: str | None  # HTTP triggers: "anonymous", "function" or "admin"


@dataclass(frozen=True)
class AppFunctions:
    orchestrators: dict[str, RegisteredOrchestrator]
    activities: dict[str, RegisteredActivity]
    others: dict[str, RegisteredFunction]

    def http_functions(self) -> list[RegisteredFunction]:
        return [f for f in self.others.values() if f.trigger_type == HTTP_TRIGGER]


def discover(worker: LanguageWorker) -> AppFunctions:
    orchestrators: dict[str, RegisteredOrchestrator] = {}
    activities: dict[str, RegisteredActivity] = {}
    others: dict[str, RegisteredFunction] = {}
    for function in worker.functions:
        name = str(function.get_function_name())
        trigger = function.get_trigger()
        if trigger is None or trigger.type is None:
            raise ValueError(f"function {name!r} has no trigger: every Azure Function needs exactly one")
        user_function = function.get_user_function()
        if trigger.type == ORCHESTRATION_TRIGGER:
            # The registered entry point is the SDK's `Orchestrator.create(fn)` handle; the runner needs the
            # generator function itself to build its own context (see replay.py).
            handle: Any = user_function
            orchestrators[name] = RegisteredOrchestrator(
                name=name,
                generator_function=handle.orchestrator_function,
                input_type=getattr(user_function, "_df_input_type", None),
                invoke=_orchestrator_call(worker, name, trigger.name),
            )
        elif trigger.type == ACTIVITY_TRIGGER:
            activities[name] = RegisteredActivity(name, _activity_call(worker, name, trigger.name))
        else:
            client = next((b.name for b in function.get_bindings() if b.type == DURABLE_CLIENT), None)
            others[name] = RegisteredFunction(
                name=name,
                trigger_type=trigger.type,
                trigger_name=trigger.name,
                trigger=trigger.get_dict_repr(),
                durable_client_name=client,
                auth_level=_auth_level(trigger.get_dict_repr()),
            )
    return AppFunctions(orchestrators=orchestrators, activities=activities, others=others)


def _activity_call(worker: LanguageWorker, name: str, input_name: str) -> Callable[[str | None], str]:
    def invoke(input_json: str | None) -> str:
        return json_of(worker.invoke(name, {input_name: json_data(input_json)}))

    return invoke


def _orchestrator_call(
    worker: LanguageWorker, name: str, context_name: str
) -> Callable[[str, Callable[..., str]], str]:
    def invoke(context_json: str, episode: Callable[..., str]) -> str:
        # The extension sends the orchestration context as JSON text in a string.
        return json_of(worker.invoke_with_body(name, {context_name: TypedData(string=context_json)}, episode))

    return invoke


def _auth_level(trigger: dict[str, Any]) -> str | None:
    level = trigger.get("authLevel")
    return None if level is None else str(getattr(level, "value", level)).lower()
