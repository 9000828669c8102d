"""Sub-orchestration: create one gallery image version and follow it until it is done.

Azure takes from minutes to hours to replicate a version, so this never waits inside an activity:
it starts the version, then polls it on durable timers, publishing per-region progress in its
custom status. A throttled start or poll waits for Retry-After on a timer and tries again. It
always returns a VersionOutcome record (never raises), so the parent sees every branch's result.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from gallery_publisher.errors import DEADLINE_EXCEEDED
from gallery_publisher.jobs.custom_status import bounded_status
from gallery_publisher.jobs.messages import Answer, JsonObject, VersionJob, region_json
from gallery_publisher.jobs.report import VersionOutcome
from gallery_publisher.telemetry import Event, job_dimensions
from orchestrators import events, names
from orchestrators.calls import call_activity
from orchestrators.retry import ACTIVITY_RETRY

bp = df.Blueprint()


def _dimensions(context: df.DurableOrchestrationContext, job: VersionJob) -> dict[str, str]:
    """The job's telemetry dimensions; an input publish_image did not make (started by hand) has none."""
    if job.telemetry is not None:
        return job.telemetry
    return job_dimensions(context.instance_id, "", "publish", job.gallery, job.definition, job.version)


def _outcome(
    context: df.DurableOrchestrationContext, job: VersionJob, state: str, seconds: float, answer: Answer
) -> JsonObject:
    events.emit(
        context, Event.VERSION_FINISHED, f"{job.path}: {state}", _dimensions(context, job), state=state,
        seconds=seconds, error_code=answer.error_code, error_message=answer.error_message,
    )  # fmt: skip
    return VersionOutcome(
        gallery=job.gallery,
        definition=job.definition,
        version=job.version,
        state=state,
        regions=answer.regions,
        seconds=seconds,
        error_code=answer.error_code,
        error_message=answer.error_message,
    ).to_json()


@bp.orchestration_trigger(context_name="context", orchestration=names.GALLERY_VERSION)
def gallery_version(context: df.DurableOrchestrationContext) -> Generator[Any, Any, JsonObject]:
    job = VersionJob.from_json(context.get_input())
    began = context.current_utc_datetime
    deadline = began + timedelta(minutes=job.deadline_minutes)
    activity = names.START_GALLERY_VERSION
    operation_url = None  # the create's status URL: its error is the best explanation of a failure
    while True:
        answer = yield from call_activity(context, activity, ACTIVITY_RETRY, job.polling(operation_url))
        now = context.current_utc_datetime
        elapsed = (now - began).total_seconds()
        for region in answer.regions:
            events.emit(
                context, Event.REGION_PROGRESS, f"{region.region}: {region.state} {region.progress}%",
                _dimensions(context, job), region=region.region, state=region.state, progress=region.progress,
            )  # fmt: skip
        if answer.provisioning_state is not None:
            context.set_custom_status(
                bounded_status(
                    {
                        "version": job.path,
                        "state": answer.provisioning_state,
                        "regions": [region_json(region) for region in answer.regions],
                    }
                )
            )
        if answer.status == "error":
            return _outcome(context, job, "Failed", elapsed, answer)
        if answer.status == "done":
            state = (
                "AlreadyPublished"
                if activity == names.START_GALLERY_VERSION
                else answer.provisioning_state or ""
            )
            return _outcome(context, job, state, elapsed, answer)
        if now >= deadline:
            answer = replace(answer, error_code=DEADLINE_EXCEEDED,
                             error_message=f"not done after {job.deadline_minutes} minutes; it may still finish "
                             "in Azure: re-run the same request to adopt it")  # fmt: skip
            return _outcome(context, job, "TimedOut", elapsed, answer)
        # "started" and "progress" move on to polling; "retry" (throttled) repeats the same call.
        if answer.status != "retry":
            activity = names.POLL_GALLERY_VERSION
            operation_url = answer.operation_url or operation_url
        wait = answer.retry_after or job.poll_seconds
        yield context.create_timer(now + timedelta(seconds=wait))
