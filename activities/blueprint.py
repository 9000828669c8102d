"""The app's activities: plain JSON in, a call into the core, plain JSON out.

Each returns a result record for every failure the core can explain ({"ok": false, "error_code",
"error_message"}); only the unexplained (a crash, a connection that outlived its retries) raises,
so the orchestrator's retry policy handles exactly the transient.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import azure.durable_functions as df

from activities.services import app_services, app_settings, http_session
from gallery_publisher import publishing, telemetry
from gallery_publisher.errors import PublishError, error_code_of
from gallery_publisher.gallery import GalleryRetryableError
from gallery_publisher.gallery_records import PollOutcome, StartOutcome, VersionStatus
from gallery_publisher.job_request import parse_job_request
from gallery_publisher.notify import post_to_mattermost
from gallery_publisher.report import JobResult, render_markdown
from orchestrators import names

bp = df.Blueprint()
log = telemetry.job_logger("gallery_publisher.activities")


def _explained(step: Callable[[], dict[str, Any]], job: dict[str, Any]) -> dict[str, Any]:
    """Run the step; lines it logs carry the job's dimensions (which the orchestrator passes in)."""
    try:
        with telemetry.job_context(job.get("telemetry")):
            return {"ok": True, **step()}
    except GalleryRetryableError as error:
        # Throttled: the orchestrator waits as long as Azure asked, on a durable timer.
        return {"ok": False, "status": "retry", "retry_after": error.retry_after, "error_message": str(error)}
    except PublishError as error:
        return {
            "ok": False,
            "status": "error",
            "error_code": error_code_of(error),
            "error_message": str(error),
        }


@bp.activity_trigger(input_name="job", activity=names.PLAN_JOB)
def plan_job(job: dict[str, Any]) -> dict[str, Any]:
    def plan() -> dict[str, Any]:
        request = parse_job_request(job["request"], app_settings())
        return {"plan": publishing.prepare_job(request, app_services()).to_json()}

    return _explained(plan, job)


@bp.activity_trigger(input_name="job", activity=names.STAGE_RAW)
def stage_raw(job: dict[str, Any]) -> dict[str, Any]:
    def stage() -> dict[str, Any]:
        result = publishing.stage_raw(job["plan"], job["request"]["image_url"], app_services())
        telemetry.emit(
            log, telemetry.Event.STAGED, f"staged {result.blob_url}: {result.size} bytes, MD5 {result.md5}",
            bytes=result.size, seconds=round(result.seconds, 3), reused=result.reused,
        )  # fmt: skip
        return {"staged": publishing.stage_result_json(result)}

    return _explained(stage, job)


@bp.activity_trigger(input_name="job", activity=names.VALIDATE_VHD)
def validate_vhd(job: dict[str, Any]) -> dict[str, Any]:
    def validate() -> dict[str, Any]:
        checked = publishing.validate_vhd(job["plan"], app_services())
        staged = {"blob_url": checked.blob_url, "md5": checked.content_md5 or "", "size": checked.size}
        return {"staged": staged}

    answer = _explained(validate, job)
    # A VHD still being uploaded (no footer yet) is worth waiting for when a blob event started the job.
    answer["incomplete"] = answer.get("error_code") == "VhdBlobUnfinished"
    return answer


def _regions(status: VersionStatus) -> list[dict[str, Any]]:
    return [{"region": r.region, "state": r.state, "progress": r.progress} for r in status.regions]


@bp.activity_trigger(input_name="job", activity=names.START_GALLERY_VERSION)
def start_gallery_version(job: dict[str, Any]) -> dict[str, Any]:
    def start() -> dict[str, Any]:
        # Replacing a Failed version is safe: start_version refuses one made from another source.
        started = app_services().gallery.start_version(publishing.version_spec(job), replace_failed=True)
        if started.outcome in (StartOutcome.STARTED, StartOutcome.ADOPTED):
            return {"status": "started", "operation_url": started.operation_url, "message": started.message}
        if started.outcome is StartOutcome.DONE:
            return {"status": "done", "provisioning_state": "Succeeded", "message": started.message}
        # DELETING (a failed version on its way out) or RETRY (throttled): start again after a wait.
        return {"status": "retry", "retry_after": started.retry_after, "message": started.message}

    return _explained(start, job)


@bp.activity_trigger(input_name="job", activity=names.POLL_GALLERY_VERSION)
def poll_gallery_version(job: dict[str, Any]) -> dict[str, Any]:
    def poll() -> dict[str, Any]:
        status = app_services().gallery.poll_version(publishing.version_ref(job), job.get("operation_url"))
        answer: dict[str, Any] = {
            "provisioning_state": status.provisioning_state or "",
            "regions": _regions(status),
        }
        if status.outcome is PollOutcome.RETRY:
            return {"status": "retry", "retry_after": status.retry_after}
        if status.outcome is PollOutcome.IN_PROGRESS:
            return answer | {"status": "progress"}
        if status.outcome is PollOutcome.MISSING:
            return answer | {
                "status": "error",
                "error_code": "VersionMissing",
                "error_message": status.error_message,
            }
        return answer | {
            "status": "done",
            "error_code": status.error_code or ("" if status.outcome is PollOutcome.SUCCEEDED else "Failed"),
            "error_message": status.error_message or "",
        }

    return _explained(poll, job)


@bp.activity_trigger(input_name="report", activity=names.REPORT_JOB)
def report_job(report: dict[str, Any]) -> dict[str, Any]:
    """Render the summary; post it to Mattermost when asked. A failed notification never fails the job."""
    with telemetry.job_context(report.get("telemetry")):
        return _report(report)


def _report(report: dict[str, Any]) -> dict[str, Any]:
    result = JobResult.from_json(report["result"])
    summary = render_markdown(result)
    settings = app_settings()
    notified, notify_error = False, ""
    if report.get("notify"):
        if not settings.mattermost_webhook_url:
            notify_error = "notification asked for, but GALLERY_PUBLISHER_MATTERMOST_WEBHOOK_URL is not set"
        else:
            try:
                post_to_mattermost(
                    http_session(), settings.mattermost_webhook_url, summary,
                    channel=settings.mattermost_channel, username=settings.mattermost_username,
                )  # fmt: skip
                notified = True
            except PublishError as error:
                notify_error = str(error)
        if notify_error:
            telemetry.emit(
                log, telemetry.Event.NOTIFICATION_FAILED, f"notification not sent: {notify_error}",
                level=logging.WARNING, error_message=notify_error,
            )  # fmt: skip
    return {"ok": True, "summary": summary, "notified": notified, "notify_error": notify_error}
