"""The whole job for one image: plan, stage or validate, publish every version at once, report.

Reads like the job description; every decision about *what* happens is here, every side effect
is in an activity. A failure at any step still ends with a report (and a notification when asked),
then raises so that the orchestration's status says Failed.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, ClassVar

import azure.durable_functions as df

from gallery_publisher.errors import BLOB_NAME_TAKEN, UPLOAD_NOT_SETTLED
from gallery_publisher.jobs.custom_status import bounded_status
from gallery_publisher.jobs.messages import (
    Answer,
    ForgetInput,
    JsonObject,
    PlanInput,
    PublishJob,
    ReportInput,
    StageInput,
    VersionJob,
    VhdInput,
)
from gallery_publisher.telemetry import Event
from orchestrators import events, names
from orchestrators.calls import call_activity, call_activity_throttled
from orchestrators.retry import ACTIVITY_RETRY, STAGE_RETRY

bp = df.Blueprint()


class JobFailedError(Exception):
    """Raised last, after the report, so that the runtime marks the orchestration Failed."""

    code: ClassVar[str] = "JobFailed"


def _failure(step: str, error_code: str, error_message: str) -> JsonObject:
    return {"failed_step": step, "error_code": error_code, "error_message": error_message or "unknown error"}


class _Status:
    """The job's custom status: the step, and what the step knows so far (bounded: the runtime keeps
    at most 16 KB of it, and fails the orchestration beyond that)."""

    def __init__(self, context: df.DurableOrchestrationContext, image_url: str) -> None:
        self._context = context
        self._status: dict[str, Any] = {
            "step": "plan",
            "image": image_url.split("?", 1)[0].rsplit("/", 1)[-1],
        }
        context.set_custom_status(bounded_status(self._status))

    def update(self, **fields: Any) -> None:
        self._status = {**self._status, **fields}
        self._context.set_custom_status(bounded_status(self._status))


def _seconds(context: df.DurableOrchestrationContext, since: datetime) -> float:
    now: datetime = context.current_utc_datetime
    return round((now - since).total_seconds(), 1)


def _validate(
    context: df.DurableOrchestrationContext,
    plan: JsonObject,
    wait_for_upload: bool,
    dimensions: dict[str, str],
) -> Generator[Any, Any, Answer]:
    """Validate the VHD and hold it as validated (lease and snapshot) until the job ends.

    A job started by a blob landing waits (on timers) for its upload to finish: a valid footer,
    and the blob's ETag unchanged for `upload_settle_seconds` (a parallel uploader can write the
    footer before middle pages). Other VHD jobs hold the blob as they validate it."""
    deadline = context.current_utc_datetime + timedelta(minutes=plan["version_deadline_minutes"])
    hold = None if wait_for_upload else "*"
    dynamic_etag = None  # a dynamic VHD (its footer found at the end) at this state of the blob
    while True:
        payload = VhdInput(plan, hold, dimensions)
        answer = yield from call_activity(context, names.VALIDATE_VHD, ACTIVITY_RETRY, payload)
        now = context.current_utc_datetime
        dynamic = wait_for_upload and answer.dynamic_vhd
        if dynamic and answer.etag == dynamic_etag:
            return answer  # a whole dynamic VHD that stayed put: the caller stages a fixed copy
        if not dynamic and (
            (answer.ok and hold) or not (answer.ok or (wait_for_upload and answer.upload_unfinished))
        ):
            return answer
        if now >= deadline:
            return answer if not answer.ok else Answer.failed(
                UPLOAD_NOT_SETTLED, f"{plan['blob_url']} kept changing until the deadline")  # fmt: skip
        # Valid (or whole but dynamic): take it at this ETag after the settle time, unless it changes.
        hold = answer.staged["etag"] if answer.ok and answer.staged else None
        dynamic_etag = answer.etag if dynamic else None
        wait = plan["upload_settle_seconds"] if answer.ok or dynamic else plan["poll_seconds"]
        yield context.create_timer(now + timedelta(seconds=wait))


def _step_finished(
    context: df.DurableOrchestrationContext,
    job: PublishJob,
    plan: JsonObject,
    step: str,
    began: datetime,
    ok: bool,
    durations: dict[str, float],
) -> None:
    durations[step] = _seconds(context, began)
    dimensions = events.job_dimensions(context, job.image_url, plan, step)
    message = f"step {step} {'done' if ok else 'failed'} in {durations[step]} s"
    events.emit(context, Event.STEP_FINISHED, message, dimensions, seconds=durations[step], ok=ok)


MOST_PLANS = 3  # a planned blob name taken by a concurrent job is planned again, at most this often


def _plan_and_stage(
    context: df.DurableOrchestrationContext, job: PublishJob, status: _Status, durations: dict[str, float]
) -> Generator[Any, Any, tuple[JsonObject, Answer, str]]:
    """Plan, then stage the RAW or validate the VHD. Returns (plan, answer, step of the answer)."""
    taken: list[str] = []  # blob names staging refused: a re-plan must not pick them again
    for _ in range(MOST_PLANS):
        began = context.current_utc_datetime
        image_url = job.image_url
        payload = PlanInput(job.request, tuple(taken), events.job_dimensions(context, image_url, {}, "plan"))
        planned = yield from call_activity_throttled(context, names.PLAN_JOB, ACTIVITY_RETRY, payload)
        plan: JsonObject = planned.plan or {}
        _step_finished(context, job, plan, "plan", began, planned.ok, durations)
        if not planned.ok or plan["dry_run"]:
            return plan, planned, "plan"
        step = "stage" if plan["source_kind"] == "raw" else "validate"
        status.update(step=step, plan=plan["operations"], container=plan["container"], blob=plan["blob_name"])
        began = context.current_utc_datetime
        dimensions = events.job_dimensions(context, image_url, plan, step)
        if step == "stage":
            staging = StageInput(image_url, context.instance_id, plan, dimensions)
            answer = yield from call_activity(context, names.STAGE_RAW, STAGE_RETRY, staging)
        else:
            waits = job.wait_for_upload
            answer = yield from _validate(context, plan, wait_for_upload=waits, dimensions=dimensions)
        _step_finished(context, job, plan, step, began, answer.ok, durations)
        if answer.dynamic_vhd and job.wait_for_upload:
            # A dynamic VHD uploaded as a page blob read as zeros when the blob starter looked: now
            # that its upload has settled, stage a fixed copy of it, as the starter does when it sees one.
            job = replace(job, request=job.request | {"url_type": "raw"})
            continue
        if answer.error_code != BLOB_NAME_TAKEN:
            return plan, answer, step
        taken.append(plan["blob_name"])
    return plan, answer, step


def _publish(
    context: df.DurableOrchestrationContext, plan: JsonObject, staged: JsonObject, image_url: str
) -> Generator[Any, Any, list[JsonObject]]:
    """Every gallery version at once, each a sub-orchestration that returns its outcome."""
    dimensions = events.job_dimensions(context, image_url, plan, "publish")
    branches = [
        context.call_sub_orchestrator(
            names.GALLERY_VERSION,
            VersionJob.from_plan(plan, version, staged, dimensions).to_json(),
            f"{context.instance_id}:{version['definition']}",
        )
        for version in plan["versions"]
    ]
    outcomes: list[JsonObject] = yield context.task_all(branches)
    return outcomes


def _publish_failure(outcomes: list[JsonObject]) -> JsonObject | None:
    failed = [o for o in outcomes if o["state"] not in ("Succeeded", "AlreadyPublished")]
    if not failed:
        return None
    first = failed[0]
    return _failure(
        "publish", first["error_code"] or first["state"], f"{len(failed)} of {len(outcomes)} versions did not "
        f"succeed; {first['gallery']}/{first['definition']}/{first['version']}: {first['error_message']}",
    )  # fmt: skip


def _full_errors(result: JsonObject) -> str:
    """Each version's Azure error in full: the summary shows remote texts cut (and made inert)."""
    errors = [
        f"{v['gallery']}/{v['definition']}/{v['version']}: {v.get('error_code', '')} {v['error_message']}"
        for v in result.get("versions", [])
        if v.get("error_message")
    ]
    if not errors:
        return ""
    return "\n\nAzure's errors in full:\n" + "\n".join(f"- {line}" for line in errors)


@bp.orchestration_trigger(context_name="context", orchestration=names.PUBLISH_IMAGE)
def publish_image(context: df.DurableOrchestrationContext) -> Generator[Any, Any, JsonObject]:
    job = PublishJob.from_json(context.get_input())
    # This run of the instance (a re-run after the end reuses the id): its start, from the history.
    run = f"{context.instance_id}/{context.current_utc_datetime:%Y%m%dT%H%M%S%fZ}"
    image_url = job.image_url
    status = _Status(context, image_url)
    durations: dict[str, float] = {}
    started = context.current_utc_datetime
    trigger = "blob" if job.wait_for_upload else "http"  # only the blob starter waits for an upload
    dimensions = events.job_dimensions(context, image_url, {}, "plan")
    events.emit(context, Event.JOB_STARTED, f"job started by {trigger}", dimensions, trigger=trigger)
    result: JsonObject = {"outcome": "failed", "versions": [], "staged": None}

    plan, answer, step = yield from _plan_and_stage(context, job, status, durations)
    # Staged, failed or never staged: a signed source URL stashed for this job is no longer needed.
    yield from call_activity(
        context, names.FORGET_SOURCE_URL, ACTIVITY_RETRY, ForgetInput(context.instance_id)
    )
    if not answer.ok:
        result.update(_failure(step, answer.error_code, answer.error_message))
    elif plan["dry_run"]:
        result["outcome"] = "dry_run"
    else:
        result["staged"] = answer.staged
        definitions = [version["definition"] for version in plan["versions"]]
        status.update(step="publish", staged=result["staged"], definitions=definitions)
        began = context.current_utc_datetime
        result["versions"] = yield from _publish(context, plan, answer.staged or {}, image_url)
        failure = _publish_failure(result["versions"])
        result.update(failure or {"outcome": "published"})
        _step_finished(context, job, plan, "publish", began, failure is None, durations)

    if step == "validate" and (answer.staged or {}).get("snapshot"):
        dimensions = events.job_dimensions(context, image_url, plan, "publish")
        yield from call_activity(
            context, names.RELEASE_VHD, ACTIVITY_RETRY, VhdInput(plan, telemetry=dimensions)
        )
    result.update(plan=plan or {"request": job.request}, durations=durations)
    status.update(step="report")
    report = yield from call_activity(
        context,
        names.REPORT_JOB,
        ACTIVITY_RETRY,
        ReportInput(
            result,
            notify=bool(job.request.get("notify", False)),
            notification_key=run,
            telemetry=events.job_dimensions(context, image_url, plan, "report"),
        ),
    )
    # Without a report the job still ends with its result; the summary then says why it is missing.
    summary = report.summary or f"(no summary: {report.error_message or 'report failed'})"
    final = {"result": result, "summary": summary, "notified": report.notified}
    ended = "failed" if result["outcome"] == "failed" else "done"
    events.emit(
        context, Event.JOB_FINISHED, f"job {result['outcome']}",
        events.job_dimensions(context, image_url, plan, ended),
        outcome=result["outcome"], seconds=_seconds(context, started),
        failed_step=result.get("failed_step", ""), error_code=result.get("error_code", ""),
        error_message=result.get("error_message", ""),
    )  # fmt: skip
    if result["outcome"] == "failed":
        status.update(step="failed", summary=summary, result=result)
        # The failure message is the failed job's output: the full texts the status may have cut.
        raise JobFailedError(
            f"failed at step {result['failed_step']}: {result['error_code']} {result['error_message']}"
            f"\n\n{summary}{_full_errors(result)}"
        )
    status.update(step="done")
    return final
