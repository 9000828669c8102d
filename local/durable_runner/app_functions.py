"""Discover an app's functions the way the Functions host indexes them: name, trigger, bindings.

`app.get_functions()` can be called once per app (a second call raises "does not have a unique
function name"), so the runner calls `discover` once and keeps the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from azure.functions import FunctionRegister

ORCHESTRATION_TRIGGER = "orchestrationTrigger"
ACTIVITY_TRIGGER = "activityTrigger"
HTTP_TRIGGER = "httpTrigger"
DURABLE_CLIENT = "durableClient"


@dataclass(frozen=True)
class RegisteredOrchestrator:
    name: str
    generator_function: Callable[..., Any]
    input_type: type | None


@dataclass(frozen=True)
class RegisteredActivity:
    name: str
    function: Callable[..., Any]
    input_name: str


@dataclass(frozen=True)
class RegisteredFunction:
    """Any other function (HTTP, blob, Event Grid, ...): called with its bindings as keyword arguments."""

    name: str
    function: Callable[..., Any]
    trigger_type: str
    trigger_name: str
    trigger: dict[str, Any]
    durable_client_name: str | None


@dataclass(frozen=True)
class AppFunctions:
    orchestrators: dict[str, RegisteredOrchestrator]
    activities: dict[str, RegisteredActivity]
    others: dict[str, RegisteredFunction]

    def http_functions(self) -> list[RegisteredFunction]:
        return [f for f in self.others.values() if f.trigger_type == HTTP_TRIGGER]


def discover(app: FunctionRegister) -> AppFunctions:
    orchestrators: dict[str, RegisteredOrchestrator] = {}
    activities: dict[str, RegisteredActivity] = {}
    others: dict[str, RegisteredFunction] = {}
    for function in app.get_functions():
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
            )
        elif trigger.type == ACTIVITY_TRIGGER:
            activities[name] = RegisteredActivity(name=name, function=user_function, input_name=trigger.name)
        else:
            client = next((b.name for b in function.get_bindings() if b.type == DURABLE_CLIENT), None)
            others[name] = RegisteredFunction(
                name=name,
                function=user_function,
                trigger_type=trigger.type,
                trigger_name=trigger.name,
                trigger=trigger.get_dict_repr(),
                durable_client_name=client,
            )
    return AppFunctions(orchestrators=orchestrators, activities=activities, others=others)
