"""The whole job for one image: plan, stage or validate, publish every version at once, report.

Reads like the job description; every decision about *what* happens is here, every side effect
is in an activity. A failure at any step still ends with a report (and a notification when asked),
then raises so that the orchestration's status says Failed.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from gallery_publisher.custom_status import bounded_status
from gallery_publisher.telemetry import Event
from orchestrators import events, names
from orchestrators.calls import call_activity, call_activity_throttled
from orchestrators.retry import ACTIVITY_RETRY, STAGE_RETRY

bp = df.Blueprint()


class JobFailedError(Exception):
    """Raised last, after the report, so that the runtime marks the orchestration Failed."""


def _failure(step: str, answer: dict[str, Any]) -> dict[str, Any]:
    return {
        "failed_step": step,
        "error_code": answer.get("error_code", ""),
        "error_message": answer.get("error_message", "unknown error"),
    }


def _version_job(
    plan: dict[str, Any], version: dict[str, Any], staged: dict[str, Any], dimensions: dict[str, str]
) -> dict[str, Any]:
    return {
        **version,
        "telemetry": {**dimensions, "definition": version["definition"], "version": version["version"]},
        "resource_group": plan["resource_group"],
        # The URL of the blob client that staged or validated it: one URL, one blob.
        "source_uri": staged.get("blob_url") or plan["blob_url"],
        "source_md5": staged.get("md5", ""),
        "storage_account_id": plan["storage_account_id"],
        "target_regions": plan["target_regions"],
        "storage_account_type": plan["storage_account_type"],
        "replication_mode": plan["replication_mode"],
        "exclude_from_latest": plan["exclude_from_latest"],
        "end_of_life_date": plan["end_of_life_date"],
        "deadline_minutes": plan["version_deadline_minutes"],
        "poll_seconds": plan["poll_seconds"],
    }


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


DYNAMIC_VHD = "DynamicVhd"  # vhd_blob.DynamicVhdError's code


def _validate(
    context: df.DurableOrchestrationContext,
    plan: dict[str, Any],
    wait_for_upload: bool,
    dimensions: dict[str, str],
) -> Generator[Any, Any, dict[str, Any]]:
    """Validate the VHD and hold it as validated (lease and snapshot) until the job ends.

    A job started by a blob landing waits (on timers) for its upload to finish: a valid footer,
    and the blob's ETag unchanged for `upload_settle_seconds` (a parallel uploader can write the
    footer before middle pages). Other VHD jobs hold the blob as they validate it."""
    deadline = context.current_utc_datetime + timedelta(minutes=plan["version_deadline_minutes"])
    hold = None if wait_for_upload else "*"
    dynamic_etag = None  # a dynamic VHD (its footer found at the end) at this state of the blob
    while True:
        payload = {"plan": plan, "hold_etag": hold, "telemetry": dimensions}
        answer = yield from call_activity(context, names.VALIDATE_VHD, ACTIVITY_RETRY, payload)
        now = context.current_utc_datetime
        dynamic = wait_for_upload and answer.get("error_code") == DYNAMIC_VHD
        if dynamic and answer["etag"] == dynamic_etag:
            return answer  # a whole dynamic VHD that stayed put: the caller stages a fixed copy
        if not dynamic and (
            (answer["ok"] and hold) or not (answer["ok"] or (wait_for_upload and answer.get("incomplete")))
        ):
            return answer
        if now >= deadline:
            return answer if not answer["ok"] else {**answer, "ok": False, "error_code": "UploadNotSettled",
                "error_message": f"{plan['blob_url']} kept changing until the deadline"}  # fmt: skip
        # Valid (or whole but dynamic): take it at this ETag after the settle time, unless it changes.
        hold = answer["staged"]["etag"] if answer["ok"] else None
        dynamic_etag = answer["etag"] if dynamic else None
        wait = plan["upload_settle_seconds"] if answer["ok"] or dynamic else plan["poll_seconds"]
        yield context.create_timer(now + timedelta(seconds=wait))


def _step_finished(
    context: df.DurableOrchestrationContext,
    job: dict[str, Any],
    plan: dict[str, Any],
    step: str,
    began: datetime,
    ok: bool,
    durations: dict[str, float],
) -> None:
    durations[step] = _seconds(context, began)
    dimensions = events.job_dimensions(context, job["request"]["image_url"], plan, step)
    message = f"step {step} {'done' if ok else 'failed'} in {durations[step]} s"
    events.emit(context, Event.STEP_FINISHED, message, dimensions, seconds=durations[step], ok=ok)


MOST_PLANS = 3  # a planned blob name taken by a concurrent job is planned again, at most this often


def _plan_and_stage(
    context: df.DurableOrchestrationContext, job: dict[str, Any], status: _Status, durations: dict[str, float]
) -> Generator[Any, Any, tuple[dict[str, Any], dict[str, Any], str]]:
    """Plan, then stage the RAW or validate the VHD. Returns (plan, answer, step of the answer)."""
    taken: list[str] = []  # blob names staging refused: a re-plan must not pick them again
    for _ in range(MOST_PLANS):
        began = context.current_utc_datetime
        image_url = job["request"]["image_url"]
        payload = job | {
            "taken_blobs": taken,
            "telemetry": events.job_dimensions(context, image_url, {}, "plan"),
        }
        planned = yield from call_activity_throttled(context, names.PLAN_JOB, ACTIVITY_RETRY, payload)
        plan: dict[str, Any] = planned.get("plan") or {}
        _step_finished(context, job, plan, "plan", began, planned["ok"], durations)
        if not planned["ok"] or plan["dry_run"]:
            return plan, planned, "plan"
        step = "stage" if plan["source_kind"] == "raw" else "validate"
        status.update(step=step, plan=plan["operations"], container=plan["container"], blob=plan["blob_name"])
        began = context.current_utc_datetime
        dimensions = events.job_dimensions(context, image_url, plan, step)
        if step == "stage":
            staging = job | {"plan": plan, "instance_id": context.instance_id, "telemetry": dimensions}
            answer = yield from call_activity(context, names.STAGE_RAW, STAGE_RETRY, staging)
        else:
            waits = job.get("wait_for_upload", False)
            answer = yield from _validate(context, plan, wait_for_upload=waits, dimensions=dimensions)
        _step_finished(context, job, plan, step, began, answer["ok"], durations)
        if answer.get("error_code") == DYNAMIC_VHD and job.get("wait_for_upload"):
            # A dynamic VHD uploaded as a page blob read as zeros when the blob starter looked: now
            # that its upload has settled, stage a fixed copy of it, as the starter does when it sees one.
            job = job | {"request": job["request"] | {"url_type": "raw"}}
            continue
        if answer.get("error_code") != "BlobNameTaken":
            return plan, answer, step
        taken.append(plan["blob_name"])
    return plan, answer, step


def _publish(
    context: df.DurableOrchestrationContext, plan: dict[str, Any], staged: dict[str, Any], image_url: str
) -> Generator[Any, Any, list[dict[str, Any]]]:
    """Every gallery version at once, each a sub-orchestration that returns its outcome."""
    dimensions = events.job_dimensions(context, image_url, plan, "publish")
    branches = [
        context.call_sub_orchestrator(
            names.GALLERY_VERSION,
            _version_job(plan, version, staged, dimensions),
            f"{context.instance_id}:{version['definition']}",
        )
        for version in plan["versions"]
    ]
    outcomes: list[dict[str, Any]] = yield context.task_all(branches)
    return outcomes


def _publish_failure(outcomes: list[dict[str, Any]]) -> dict[str, Any] | None:
    failed = [o for o in outcomes if o["state"] not in ("Succeeded", "AlreadyPublished")]
    if not failed:
        return None
    first = failed[0]
    return _failure("publish", {
        "error_code": first["error_code"] or first["state"],
        "error_message": f"{len(failed)} of {len(outcomes)} versions did not succeed; "
        f"{first['gallery']}/{first['definition']}/{first['version']}: {first['error_message']}",
    })  # fmt: skip


def _full_errors(result: dict[str, Any]) -> str:
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
def publish_image(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    job: dict[str, Any] = context.get_input()
    # This run of the instance (a re-run after the end reuses the id): its start, from the history.
    run = f"{context.instance_id}/{context.current_utc_datetime:%Y%m%dT%H%M%S%fZ}"
    image_url = job["request"]["image_url"]
    status = _Status(context, image_url)
    durations: dict[str, float] = {}
    started = context.current_utc_datetime
    trigger = "blob" if job.get("wait_for_upload") else "http"  # only the blob starter waits for an upload
    dimensions = events.job_dimensions(context, image_url, {}, "plan")
    events.emit(context, Event.JOB_STARTED, f"job started by {trigger}", dimensions, trigger=trigger)
    result: dict[str, Any] = {"outcome": "failed", "versions": [], "staged": None}

    plan, answer, step = yield from _plan_and_stage(context, job, status, durations)
    # Staged, failed or never staged: a signed source URL stashed for this job is no longer needed.
    yield from call_activity(
        context, names.FORGET_SOURCE_URL, ACTIVITY_RETRY, {"instance_id": context.instance_id}
    )
    if not answer["ok"]:
        result.update(_failure(step, answer))
    elif plan["dry_run"]:
        result["outcome"] = "dry_run"
    else:
        result["staged"] = answer.get("staged")
        definitions = [version["definition"] for version in plan["versions"]]
        status.update(step="publish", staged=result["staged"], definitions=definitions)
        began = context.current_utc_datetime
        result["versions"] = yield from _publish(context, plan, answer.get("staged") or {}, image_url)
        failure = _publish_failure(result["versions"])
        result.update(failure or {"outcome": "published"})
        _step_finished(context, job, plan, "publish", began, failure is None, durations)

    if step == "validate" and (answer.get("staged") or {}).get("snapshot"):
        yield from call_activity(
            context,
            names.RELEASE_VHD,
            ACTIVITY_RETRY,
            {"plan": plan, "telemetry": events.job_dimensions(context, image_url, plan, "publish")},
        )
    result.update(plan=plan or {"request": job["request"]}, durations=durations)
    status.update(step="report")
    report = yield from call_activity(
        context,
        names.REPORT_JOB,
        ACTIVITY_RETRY,
        {
            "result": result,
            "notify": job["request"].get("notify", False),
            "notification_key": run,
            "telemetry": events.job_dimensions(context, image_url, plan, "report"),
        },
    )
    # Without a report the job still ends with its result; the summary then says why it is missing.
    summary = report.get("summary") or f"(no summary: {report.get('error_message', 'report failed')})"
    final = {"result": result, "summary": summary, "notified": report.get("notified", False)}
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
