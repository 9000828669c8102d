"""The app's activities: plain JSON in, a call into the core, plain JSON out.

Each returns a result record for every failure the core can explain ({"ok": false, "error_code",
"error_message"}); only the unexplained (a crash, a connection that outlived its retries) raises,
so the orchestrator's retry policy handles exactly the transient.
"""

from __future__ import annotations

import logging
import typing
from collections.abc import Callable
from typing import Any

import azure.durable_functions as df
from azure.core.exceptions import AzureError

from activities.services import app_services, app_settings, http_session
from gallery_publisher import publishing, telemetry
from gallery_publisher.errors import PublishError, error_code_of
from gallery_publisher.gallery import GalleryRetryableError
from gallery_publisher.gallery_records import PollOutcome, StartOutcome, VersionStatus
from gallery_publisher.input_guard import check_stage_input, check_version_input
from gallery_publisher.job_request import parse_job_request
from gallery_publisher.notified import already_notified, record_notified
from gallery_publisher.notify import post_to_mattermost
from gallery_publisher.report import JobResult, render_markdown
from gallery_publisher.source_stash import discard_source_url, stashed_source_url
from gallery_publisher.vhd_blob import DynamicVhdError
from orchestrators import names

bp = df.Blueprint()
# The Python worker refuses a PEP 585 generic (`dict[str, Any]`) on a bound parameter ("invalid non-type
# annotation") and then loads no function at all; a `typing` generic passes its check.
JsonObject = typing.Dict[str, Any]  # noqa: UP006
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
def plan_job(job: JsonObject) -> JsonObject:
    def plan() -> dict[str, Any]:
        request = parse_job_request(job["request"], app_settings())
        taken = tuple(job.get("taken_blobs", ()))
        return {"plan": publishing.prepare_job(request, app_services(), taken).to_json()}

    return _explained(plan, job)


@bp.activity_trigger(input_name="job", activity=names.STAGE_RAW)
def stage_raw(job: JsonObject) -> JsonObject:
    def stage() -> dict[str, Any]:
        services = app_services()
        source_url = stashed_source_url(services.blobs, job["instance_id"], job["request"]["image_url"])
        check_stage_input(job["plan"], source_url, services.settings)
        result = publishing.stage_raw(job["plan"], source_url, services)
        telemetry.emit(
            log, telemetry.Event.STAGED, f"staged {result.blob_url}: {result.size} bytes, MD5 {result.md5}",
            bytes=result.size, seconds=round(result.seconds, 3), reused=result.reused,
        )  # fmt: skip
        return {"staged": publishing.stage_result_json(result)}

    return _explained(stage, job)


@bp.activity_trigger(input_name="job", activity=names.FORGET_SOURCE_URL)
def forget_source_url(job: JsonObject) -> JsonObject:
    """Staging is over: the signed source URL stashed for the job goes (see source_stash)."""
    discard_source_url(app_services().blobs, job["instance_id"])
    return {"ok": True}


@bp.activity_trigger(input_name="job", activity=names.VALIDATE_VHD)
def validate_vhd(job: JsonObject) -> JsonObject:
    def validate() -> dict[str, Any]:
        checked = publishing.validate_vhd(job["plan"], app_services())
        staged = {"blob_url": checked.blob_url, "md5": checked.content_md5 or "", "size": checked.size,
                  "etag": checked.etag}  # fmt: skip
        # Hold at the ETag the orchestrator saw stay put ("*": the one just validated).
        hold = job.get("hold_etag")
        if hold:
            etag = checked.etag if hold == "*" else hold
            staged["snapshot"] = publishing.hold_vhd(job["plan"], etag, app_services())
        return {"staged": staged}

    dynamic_etag = ""

    def validate_noting_dynamic() -> dict[str, Any]:
        nonlocal dynamic_etag
        try:
            return validate()
        except DynamicVhdError as error:
            dynamic_etag = error.etag
            raise

    answer = _explained(validate_noting_dynamic, job)
    # A VHD still being uploaded (no footer yet) is worth waiting for when a blob event started the job.
    answer["incomplete"] = answer.get("error_code") == "VhdBlobUnfinished"
    if dynamic_etag:  # the blob's state found dynamic: the job copies it once it stays so
        answer["etag"] = dynamic_etag
    return answer


@bp.activity_trigger(input_name="job", activity=names.RELEASE_VHD)
def release_vhd(job: JsonObject) -> JsonObject:
    """Let the VHD input be written again: the versions made from it are done (or failed)."""

    def release() -> dict[str, Any]:
        publishing.release_vhd(job["plan"], app_services())
        return {}

    return _explained(release, job)


def _regions(status: VersionStatus) -> list[dict[str, Any]]:
    return [{"region": r.region, "state": r.state, "progress": r.progress} for r in status.regions]


@bp.activity_trigger(input_name="job", activity=names.START_GALLERY_VERSION)
def start_gallery_version(job: JsonObject) -> JsonObject:
    def start() -> dict[str, Any]:
        check_version_input(job, app_settings())
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
def poll_gallery_version(job: JsonObject) -> JsonObject:
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


# Durable runs an activity at least once: a report run twice must not post twice (gallery_publisher.notified).
def _already_notified(key: str) -> bool:
    try:
        return already_notified(app_services().blobs, key)
    except AzureError as error:
        # Unknown: post rather than risk no notification at all.
        log.warning("could not check whether %s was notified: %s", key, type(error).__name__)
        return False


def _record_notified(key: str) -> None:
    try:
        record_notified(app_services().blobs, key)
    except AzureError as error:
        log.warning("notification for %s sent but not recorded: %s", key, type(error).__name__)


@bp.activity_trigger(input_name="report", activity=names.REPORT_JOB)
def report_job(report: JsonObject) -> JsonObject:
    """Render the summary; post it to Mattermost when asked. A failed notification never fails the job."""
    with telemetry.job_context(report.get("telemetry")):
        return _report(report)


def _report(report: dict[str, Any]) -> dict[str, Any]:
    result = JobResult.from_json(report["result"])
    summary = render_markdown(result)
    settings = app_settings()
    notified, notify_error = False, ""
    key = report.get("notification_key", "")
    if report.get("notify"):
        if not settings.mattermost_webhook_url:
            notify_error = "notification asked for, but GALLERY_PUBLISHER_MATTERMOST_WEBHOOK_URL is not set"
        elif key and _already_notified(key):
            log.info("notification for %s was already sent", key)
            notified = True
        else:
            try:
                post_to_mattermost(
                    http_session(), settings.mattermost_webhook_url, summary,
                    channel=settings.mattermost_channel, username=settings.mattermost_username,
                )  # fmt: skip
                notified = True
            except PublishError as error:
                notify_error = str(error)
            if notified and key:
                _record_notified(key)
        if notify_error:
            telemetry.emit(
                log, telemetry.Event.NOTIFICATION_FAILED, f"notification not sent: {notify_error}",
                level=logging.WARNING, error_message=notify_error,
            )  # fmt: skip
    return {"ok": True, "summary": summary, "notified": notified, "notify_error": notify_error}
