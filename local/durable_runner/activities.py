"""Call an activity function as the Functions host and Python worker do: JSON text in, JSON text out.

The call goes through the Python worker's own invocation code (worker.py): its `ActivityTriggerConverter`
decodes the input and encodes the result, so an activity sees exactly what it would see on Azure
(including the custom-object envelope), and a result that is not JSON fails the activity as there.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass

from .app_functions import RegisteredActivity
from .worker import FunctionFailed


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
        return ActivitySucceeded(result_json=activity.invoke(input_json))
    except FunctionFailed as failed:  # the worker's message: "<ExceptionType>: <text>"
        return ActivityFailed(
            reason=f"Activity function '{activity.name}' failed: {failed.message}",
            details=failed.stack_trace,
        )
    except Exception as error:  # the local host itself failed to make the call
        return ActivityFailed(
            reason=f"Activity function '{activity.name}' failed: {type(error).__name__}: {error}",
            details="".join(traceback.format_exception(error)),
        )


def missing_activity(name: str) -> ActivityFailed:
    message = f"The function '{name}' doesn't exist, is disabled, or is not an activity function."
    return ActivityFailed(reason=message, details=message)
