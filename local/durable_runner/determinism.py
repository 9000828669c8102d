"""The replay contract: across replays an orchestrator's actions only ever grow by appending.

The SDK returns every action scheduled so far on each replay; if an earlier action changes or
disappears, the orchestrator read something that is not in the history (wall clock, random numbers,
environment, I/O). The extension would fail such an orchestration with a non-determinism error.
"""

from __future__ import annotations

import json
from typing import Any

Action = dict[str, Any]


class NonDeterminismError(RuntimeError):
    """An orchestrator scheduled different actions when replaying the same history."""


def flatten_actions(state: dict[str, Any]) -> list[Action]:
    """The atomic actions of an orchestrator state, in order (task_all / task_any groups unwrapped)."""
    flat: list[Action] = []
    for group in state.get("actions", []):
        for action in group:
            _flatten(action, flat)
    return flat


def _flatten(action: Action, into: list[Action]) -> None:
    if "compoundActions" in action:
        for child in action["compoundActions"]:
            _flatten(child, into)
        return
    # A timer cancelled later (task_any with a timeout) changes its earlier action in place: not a divergence.
    into.append({key: value for key, value in action.items() if key != "isCanceled"})


def check_append_only(
    orchestration: str, instance_id: str, before: list[Action], after: list[Action]
) -> None:
    for index, previous in enumerate(before):
        current = after[index] if index < len(after) else None
        if current != previous:
            now = "no longer scheduled" if current is None else f"now {_show(current)}"
            raise NonDeterminismError(
                f"orchestrator '{orchestration}' (instance '{instance_id}') is not deterministic: action "
                f"#{index} was {_show(previous)} in an earlier replay and is {now}. "
                "Orchestrators must not read the wall clock, random numbers, environment or I/O: "
                "use context.current_utc_datetime, context.new_uuid() and activities instead."
            )


def _show(action: Action) -> str:
    return json.dumps(action, sort_keys=True)
