"""Sub-orchestration: create one gallery image version and follow it until it is done.

Azure takes from minutes to hours to replicate a version, so this never waits inside an activity:
it starts the version, then polls it on durable timers, publishing per-region progress in its
custom status. A throttled start or poll waits for Retry-After on a timer and tries again. It
always returns a VersionOutcome record (never raises), so the parent sees every branch's result.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from gallery_publisher.custom_status import bounded_status
from gallery_publisher.report import RegionState, VersionOutcome
from gallery_publisher.telemetry import Event, job_dimensions
from orchestrators import events, names
from orchestrators.calls import call_activity
from orchestrators.retry import ACTIVITY_RETRY

bp = df.Blueprint()

FINAL_STATES = ("Succeeded", "Failed")


def _dimensions(context: df.DurableOrchestrationContext, job: dict[str, Any]) -> dict[str, str]:
    """The job's telemetry dimensions; an input publish_image did not make (started by hand) has none."""
    own = job_dimensions(
        context.instance_id, "", "publish", str(job.get("gallery", "")), str(job.get("definition", "")),
        str(job.get("version", "")),
    )  # fmt: skip
    given = job.get("telemetry")
    return given if isinstance(given, dict) else own


def _outcome(
    context: df.DurableOrchestrationContext,
    job: dict[str, Any],
    state: str,
    seconds: float,
    answer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    answer = answer or {}
    events.emit(
        context, Event.VERSION_FINISHED, f"{job['gallery']}/{job['definition']}/{job['version']}: {state}",
        _dimensions(context, job), state=state, seconds=seconds,
        error_code=answer.get("error_code", ""), error_message=answer.get("error_message", ""),
    )  # fmt: skip
    return VersionOutcome(
        gallery=job["gallery"],
        definition=job["definition"],
        version=job["version"],
        state=state,
        regions=tuple(RegionState(**r) for r in answer.get("regions", ())),
        seconds=seconds,
        error_code=answer.get("error_code", ""),
        error_message=answer.get("error_message", ""),
    ).to_json()


@bp.orchestration_trigger(context_name="context", orchestration=names.GALLERY_VERSION)
def gallery_version(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    job: dict[str, Any] = context.get_input()
    began = context.current_utc_datetime
    deadline = began + timedelta(minutes=job["deadline_minutes"])
    activity = names.START_GALLERY_VERSION
    operation_url = None  # the create's status URL: its error is the best explanation of a failure
    while True:
        payload = job | {"operation_url": operation_url}
        answer = yield from call_activity(context, activity, ACTIVITY_RETRY, payload)
        now = context.current_utc_datetime
        elapsed = (now - began).total_seconds()
        for region in answer.get("regions", []):
            events.emit(
                context, Event.REGION_PROGRESS, f"{region['region']}: {region['state']} {region['progress']}%",
                _dimensions(context, job), region=region["region"], state=region["state"], progress=region["progress"],
            )  # fmt: skip
        if "provisioning_state" in answer:
            context.set_custom_status(
                bounded_status(
                    {
                        "version": f"{job['gallery']}/{job['definition']}/{job['version']}",
                        "state": answer["provisioning_state"],
                        "regions": answer.get("regions", []),
                    }
                )
            )
        if answer["status"] == "error":
            return _outcome(context, job, "Failed", elapsed, answer)
        if answer["status"] == "done":
            state = (
                "AlreadyPublished"
                if activity == names.START_GALLERY_VERSION
                else answer["provisioning_state"]
            )
            return _outcome(context, job, state, elapsed, answer)
        if now >= deadline:
            answer = {**answer, "error_code": "DeadlineExceeded",
                      "error_message": f"not done after {job['deadline_minutes']} minutes; it may still finish in "
                      "Azure: re-run the same request to adopt it"}  # fmt: skip
            return _outcome(context, job, "TimedOut", elapsed, answer)
        # "started" and "progress" move on to polling; "retry" (throttled) repeats the same call.
        if answer["status"] != "retry":
            activity = names.POLL_GALLERY_VERSION
            operation_url = answer.get("operation_url") or operation_url
        wait = answer.get("retry_after") or job["poll_seconds"]
        yield context.create_timer(now + timedelta(seconds=wait))
