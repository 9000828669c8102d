"""Call an activity function as the Functions host and Python worker do: JSON text in, JSON text out.

The worker's own converter (`ActivityTriggerConverter`) decodes the input and encodes the result, so
an activity sees exactly what it would see on Azure (including the custom-object envelope).
"""

from __future__ import annotations

import asyncio
import inspect
import traceback
from dataclasses import dataclass

from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter

from .app_functions import RegisteredActivity


@dataclass(frozen=True)
class ActivitySucceeded:
    result_json: str


@dataclass(frozen=True)
class ActivityFailed:
    """What the extension records as TaskFailed; orchestrators see `Exception("<reason> \\n <details>")`."""

    reason: str
    details: str


ActivityOutcome = ActivitySucceeded | ActivityFailed


def run_activity(activity: RegisteredActivity, input_json: str | None) -> ActivityOutcome:
    try:
        value = ActivityTriggerConverter.decode(
            meta.Datum(type="json", value=input_json), trigger_metadata={}
        )
        result = activity.function(**{activity.input_name: value})
        if inspect.isawaitable(result):
            result = asyncio.run(_await(result))
        encoded = ActivityTriggerConverter.encode(result, expected_type=None)
        return ActivitySucceeded(result_json=str(encoded.value))
    except Exception as error:
        return ActivityFailed(
            reason=f"Activity function '{activity.name}' failed: {type(error).__name__}: {error}",
            details="".join(traceback.format_exception(error)),
        )


async def _await(awaitable: object) -> object:
    return await awaitable  # type: ignore[misc]


def missing_activity(name: str) -> ActivityFailed:
    message = f"The function '{name}' doesn't exist, is disabled, or is not an activity function."
    return ActivityFailed(reason=message, details=message)
