"""Calling activities so that even an unexplained failure comes back as a result record.

Activities return records for everything they can explain. What they cannot (a crash, a network
error that outlived every retry) reaches the orchestrator as an exception whose text is
"Reason \\n Details", Details being a traceback: keep the reason, drop the traceback.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df


def reason_of(error: Exception) -> str:
    return str(error).split(" \n ", 1)[0].strip() or type(error).__name__


def call_activity(
    context: df.DurableOrchestrationContext, name: str, retry: df.RetryOptions, payload: dict[str, Any]
) -> Generator[Any, Any, dict[str, Any]]:
    try:
        answer: dict[str, Any] = yield context.call_activity_with_retry(name, retry, payload)
    except Exception as error:
        return {
            "ok": False,
            "status": "error",
            "error_code": "ActivityFailed",
            "error_message": reason_of(error),
        }
    return answer


def call_activity_throttled(
    context: df.DurableOrchestrationContext,
    name: str,
    retry: df.RetryOptions,
    payload: dict[str, Any],
    most_waits: int = 20,
) -> Generator[Any, Any, dict[str, Any]]:
    """Like call_activity, but an answer of {"status": "retry", "retry_after"} (Azure throttled us)
    is waited out on a durable timer and the call made again, at most `most_waits` times."""
    for _ in range(most_waits):
        answer = yield from call_activity(context, name, retry, payload)
        if answer.get("status") != "retry":
            return answer
        wake = context.current_utc_datetime + timedelta(seconds=answer.get("retry_after") or 30)
        yield context.create_timer(wake)
    return answer
