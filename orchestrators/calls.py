"""Calling activities so that even an unexplained failure comes back as an Answer.

Activities answer for everything they can explain. What they cannot (a crash, a network error that
outlived every retry) reaches the orchestrator as an exception whose text is "Reason \\n Details",
Details being a traceback: keep the reason, drop the traceback.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any, Protocol

import azure.durable_functions as df

from gallery_publisher.errors import ACTIVITY_FAILED
from gallery_publisher.jobs.messages import Answer, JsonObject


class Message(Protocol):
    def to_json(self) -> JsonObject: ...


def reason_of(error: Exception) -> str:
    return str(error).split(" \n ", 1)[0].strip() or type(error).__name__


def call_activity(
    context: df.DurableOrchestrationContext, name: str, retry: df.RetryOptions, payload: Message
) -> Generator[Any, Any, Answer]:
    try:
        answer: JsonObject = yield context.call_activity_with_retry(name, retry, payload.to_json())
    except Exception as error:
        return Answer.failed(ACTIVITY_FAILED, reason_of(error))
    return Answer.from_json(answer)


def call_activity_throttled(
    context: df.DurableOrchestrationContext,
    name: str,
    retry: df.RetryOptions,
    payload: Message,
    most_waits: int = 20,
) -> Generator[Any, Any, Answer]:
    """Like call_activity, but an answer of status "retry" (Azure throttled us) is waited out on a
    durable timer (`retry_after`, else 30 s) and the call made again, at most `most_waits` times."""
    for _ in range(most_waits):
        answer = yield from call_activity(context, name, retry, payload)
        if answer.status != "retry":
            return answer
        wake = context.current_utc_datetime + timedelta(seconds=answer.retry_after or 30)
        yield context.create_timer(wake)
    return answer
