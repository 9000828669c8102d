"""The app's activities: a message in (gallery_publisher.jobs.messages), a call into the core, an Answer out.

Each answers for every failure the core can explain (status "error", `error_code`, `error_message`);
only the unexplained (a crash, a connection that outlived its retries) raises, so the orchestrator's
retry policy handles exactly the transient. Parameters stay `JsonObject`, which the worker accepts on a
bound parameter; each activity reads its message with `from_json` first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import azure.durable_functions as df
from azure.core.exceptions import AzureError

from activities.services import app_services, app_settings, http_session
from gallery_publisher import publishing, telemetry
from gallery_publisher.errors import PublishError, error_code_of
from gallery_publisher.gallery.client import GalleryRetryableError
from gallery_publisher.gallery.records import PollOutcome, StartOutcome, VersionStatus
from gallery_publisher.input_guard import check_stage_input, check_version_input
from gallery_publisher.jobs.messages import (
    Answer,
    ForgetInput,
    JsonObject,
    PlanInput,
    ReportInput,
    StageInput,
    VersionJob,
    VhdInput,
)
from gallery_publisher.jobs.notified import already_notified, record_notified
from gallery_publisher.jobs.notify import post_to_mattermost
from gallery_publisher.jobs.report import JobResult, RegionState, render_markdown
from gallery_publisher.jobs.request import parse_job_request
from gallery_publisher.jobs.source_stash import discard_source_url, stashed_source_url
from gallery_publisher.staging.vhd_blob import DynamicVhdError
from orchestrators import names

bp = df.Blueprint()
log = telemetry.job_logger("gallery_publisher.activities")


def _explained(step: Callable[[], Answer], dimensions: Mapping[str, str] | None) -> JsonObject:
    """Run the step; lines it logs carry the job's dimensions (which the orchestrator passes in)."""
    try:
        with telemetry.job_context(dimensions):
            answer = step()
    except GalleryRetryableError as error:
        # Throttled: the orchestrator waits as long as Azure asked, on a durable timer.
        answer = Answer("retry", retry_after=error.retry_after, error_message=str(error))
    except PublishError as error:
        answer = Answer.failed(error_code_of(error), str(error))
    return answer.to_json()


@bp.activity_trigger(input_name="job", activity=names.PLAN_JOB)
def plan_job(job: JsonObject) -> JsonObject:
    given = PlanInput.from_json(job)

    def plan() -> Answer:
        request = parse_job_request(given.request, app_settings())
        prepared = publishing.prepare_job(request, app_services(), given.taken_blobs)
        return Answer("done", plan=prepared.to_json())

    return _explained(plan, given.telemetry)


@bp.activity_trigger(input_name="job", activity=names.STAGE_RAW)
def stage_raw(job: JsonObject) -> JsonObject:
    given = StageInput.from_json(job)

    def stage() -> Answer:
        services = app_services()
        source_url = stashed_source_url(services.blobs, given.instance_id, given.image_url)
        check_stage_input(given.plan, source_url, services.settings)
        result = publishing.stage_raw(given.plan, source_url, services)
        telemetry.emit(
            log, telemetry.Event.STAGED, f"staged {result.blob_url}: {result.size} bytes, MD5 {result.md5}",
            bytes=result.size, seconds=round(result.seconds, 3), reused=result.reused,
        )  # fmt: skip
        return Answer("done", staged=publishing.stage_result_json(result))

    return _explained(stage, given.telemetry)


@bp.activity_trigger(input_name="job", activity=names.FORGET_SOURCE_URL)
def forget_source_url(job: JsonObject) -> JsonObject:
    """Staging is over: the signed source URL stashed for the job goes (see source_stash)."""
    discard_source_url(app_services().blobs, ForgetInput.from_json(job).instance_id)
    return Answer("done").to_json()


@bp.activity_trigger(input_name="job", activity=names.VALIDATE_VHD)
def validate_vhd(job: JsonObject) -> JsonObject:
    given = VhdInput.from_json(job)

    dynamic_etag = ""

    def validate() -> Answer:
        nonlocal dynamic_etag
        try:
            checked = publishing.validate_vhd(given.plan, app_services())
        except DynamicVhdError as error:
            dynamic_etag = error.etag  # the state found dynamic: the job copies it once it stays so
            raise
        staged: JsonObject = {"blob_url": checked.blob_url, "md5": checked.content_md5 or "",
                              "size": checked.size, "etag": checked.etag}  # fmt: skip
        # Hold at the ETag the orchestrator saw stay put ("*": the one just validated).
        if given.hold_etag:
            etag = checked.etag if given.hold_etag == "*" else given.hold_etag
            staged["snapshot"] = publishing.hold_vhd(given.plan, etag, app_services())
        return Answer("done", staged=staged)

    answer = _explained(validate, given.telemetry)
    return answer | {"etag": dynamic_etag} if dynamic_etag else answer


@bp.activity_trigger(input_name="job", activity=names.RELEASE_VHD)
def release_vhd(job: JsonObject) -> JsonObject:
    """Let the VHD input be written again: the versions made from it are done (or failed)."""
    given = VhdInput.from_json(job)

    def release() -> Answer:
        publishing.release_vhd(given.plan, app_services())
        return Answer("done")

    return _explained(release, given.telemetry)


def _regions(status: VersionStatus) -> tuple[RegionState, ...]:
    return tuple(RegionState(r.region, r.state, r.progress) for r in status.regions)


@bp.activity_trigger(input_name="job", activity=names.START_GALLERY_VERSION)
def start_gallery_version(job: JsonObject) -> JsonObject:
    given = VersionJob.from_json(job)

    def start() -> Answer:
        check_version_input(given, app_settings())
        # Replacing a Failed version is safe: start_version refuses one made from another source.
        started = app_services().gallery.start_version(publishing.version_spec(given), replace_failed=True)
        if started.outcome in (StartOutcome.STARTED, StartOutcome.ADOPTED):
            return Answer("started", operation_url=started.operation_url, message=started.message)
        if started.outcome is StartOutcome.DONE:
            return Answer("done", provisioning_state="Succeeded", message=started.message)
        # DELETING (a failed version on its way out) or RETRY (throttled): start again after a wait.
        return Answer("retry", retry_after=started.retry_after, message=started.message)

    return _explained(start, given.telemetry)


@bp.activity_trigger(input_name="job", activity=names.POLL_GALLERY_VERSION)
def poll_gallery_version(job: JsonObject) -> JsonObject:
    given = VersionJob.from_json(job)

    def poll() -> Answer:
        status = app_services().gallery.poll_version(given.ref, given.operation_url)
        if status.outcome is PollOutcome.RETRY:
            return Answer("retry", retry_after=status.retry_after)
        state, regions = status.provisioning_state or "", _regions(status)
        if status.outcome is PollOutcome.IN_PROGRESS:
            return Answer("progress", provisioning_state=state, regions=regions)
        if status.outcome is PollOutcome.MISSING:
            return Answer("error", "VersionMissing", status.error_message or "", provisioning_state=state,
                          regions=regions)  # fmt: skip
        return Answer(
            "done",
            error_code=status.error_code or ("" if status.outcome is PollOutcome.SUCCEEDED else "Failed"),
            error_message=status.error_message or "",
            provisioning_state=state,
            regions=regions,
        )

    return _explained(poll, given.telemetry)


# Durable runs an activity at least once: a report run twice must not post twice (gallery_publisher.jobs.notified).
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
    given = ReportInput.from_json(report)
    with telemetry.job_context(given.telemetry):
        return _report(given).to_json()


def _report(report: ReportInput) -> Answer:
    summary = render_markdown(JobResult.from_json(report.result))
    settings = app_settings()
    notified, notify_error = False, ""
    key = report.notification_key
    if report.notify:
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
    return Answer("done", summary=summary, notified=notified, notify_error=notify_error)
