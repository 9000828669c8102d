"""Composition root of the Function App: the durable app, its two starters, and its blueprints.

Starters: `POST /api/publish` (the release workflow or a person) and a BlobCreated event from
Event Grid (a VHD landing in a container). An hourly timer lists (or deletes) staging leftovers. Both start the same `publish_image` orchestration
under an instance id derived from the image and gallery, so the same job never runs twice.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, ClassVar

import azure.durable_functions as df
import azure.functions as func
from azure.core.exceptions import ResourceNotFoundError

from activities import blueprint as activities_blueprint
from activities.services import app_services, app_settings
from gallery_publisher.errors import PublishError
from gallery_publisher.jobs.messages import PublishJob
from gallery_publisher.jobs.request import (
    is_job_instance_id,
    job_id_of,
    job_instance_id,
    parse_job_request,
    run_instance_id,
)
from gallery_publisher.jobs.source_stash import needs_stash, secret_free_body, stash_source_url
from gallery_publisher.jobs.status import shape_job_status
from gallery_publisher.log_policy import keep_secrets_out_of_logs
from gallery_publisher.planning.families import FAMILIES
from gallery_publisher.source.disk_formats import PROBE_SIZE, detect_vhd_head
from gallery_publisher.staging import leftovers
from gallery_publisher.staging.storage import SOURCE_URL, staging_progress
from gallery_publisher.urls import blob_location, redact_text, redact_url
from job_page import blueprint as job_page_blueprint
from orchestrators import gallery_version, names, publish_image

starters = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)
log = logging.getLogger("gallery_publisher.starters")
ACTIVE = (df.OrchestrationRuntimeStatus.Running, df.OrchestrationRuntimeStatus.Pending)
VHD_CONTAINERS = frozenset(family.container for family in FAMILIES)
MAX_BODY_BYTES = 64 * 1024  # a publish request is a few hundred bytes


def _json_response(body: dict[str, Any], status: int) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")


def _status_url(req: func.HttpRequest, instance_id: str) -> str:
    base = req.url.split("?", 1)[0].rstrip("/")
    base = base.rsplit("/api/", 1)[0]
    return f"{base}/api/publish/{instance_id}"


class StartFailed(Exception):
    """start_new failed, and not because the same job is running; the message is redacted."""

    code: ClassVar[str] = "StartFailed"


async def _run_id(client: df.DurableOrchestrationClient, job_id: str) -> str:
    """The instance id of the job's run that is running, else the one its next run gets.

    Each run keeps its own record: starting the same id again would overwrite a finished run's
    history (a later dry run would erase a real publication's record)."""
    run = 1
    while True:
        instance_id = run_instance_id(job_id, run)
        status = await client.get_status(instance_id, show_input=False)
        if not status or status.runtime_status in ACTIVE:
            return instance_id
        run += 1


async def _start(client: df.DurableOrchestrationClient, instance_id: str, job: dict[str, Any]) -> str | None:
    """Start the run `instance_id` (see _run_id) unless it is running; its id, or None when it runs."""
    existing = await client.get_status(instance_id, show_input=False)
    if existing and existing.runtime_status in ACTIVE:
        return None
    try:
        await client.start_new(names.PUBLISH_IMAGE, instance_id, job)
    except Exception as error:
        # Only a racing identical request, which started the job between our check and our start,
        # means "already running"; anything else (storage down, a bad orchestrator name) is a failure.
        racing = await client.get_status(instance_id, show_input=False)
        if racing and racing.runtime_status in ACTIVE:
            return None
        raise StartFailed(redact_text(str(error))[:500]) from None
    return instance_id


@starters.route(route="publish", methods=["POST"])
@starters.durable_client_input(client_name="client")
async def start_publish(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    settings = app_settings()
    raw_body = req.get_body()
    if len(raw_body) > MAX_BODY_BYTES:
        return _json_response({"error": f"the request body is over {MAX_BODY_BYTES // 1024} KiB"}, 400)
    try:
        body = json.loads(raw_body.decode("utf-8"))
    except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        return _json_response({"error": "the request body is not JSON (UTF-8)"}, 400)
    try:
        request = parse_job_request(body, settings)
    except PublishError as error:
        return _json_response({"error": str(error)}, 400)
    instance_id = await _run_id(client, job_instance_id(request, settings))
    if needs_stash(request):  # the signature stays out of Durable state: see source_stash
        stash_source_url(app_services().blobs, instance_id, request.image_url)
    job = PublishJob(secret_free_body(body, request), wait_for_upload=False).to_json()
    try:
        started = await _start(client, instance_id, job)
    except StartFailed as error:
        log.error("job %s could not be started: %s", instance_id, error)
        return _json_response(
            {"error": f"the job could not be started: {error}", "instance_id": instance_id}, 500
        )
    status_url = _status_url(req, instance_id)
    if started is None:
        return _json_response(
            {
                "error": "the same job is already running",
                "instance_id": instance_id,
                "status_url": status_url,
            },
            409,
        )
    # Only our own route: the Durable check-status URLs carry the task hub's system key.
    return _json_response({"instance_id": instance_id, "status_url": status_url}, 202)


@starters.route(route="publish/{instance_id}", methods=["GET"])
@starters.durable_client_input(client_name="client")
async def publish_status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = req.route_params["instance_id"]
    if not is_job_instance_id(instance_id):
        # The id goes into the Durable API's URLs: only the shape our starters make gets that far.
        return _json_response({"error": "not a job id: use the instance_id the start answered"}, 400)
    status = await client.get_status(instance_id, show_input=False)
    if not status:
        return _json_response({"error": f"no job {instance_id}"}, 404)
    custom = status.custom_status if isinstance(status.custom_status, dict) else {}
    children = []
    for definition in custom.get("definitions", []):
        child = await client.get_status(f"{instance_id}:{definition}", show_input=False)
        if child and isinstance(child.custom_status, dict):
            children.append(child.custom_status)
    staging = None
    if custom.get("step") == "stage" and custom.get("blob"):
        blob = app_services().blobs.get_blob_client(custom["container"], custom["blob"])
        staging = staging_progress(blob)
    shaped = shape_job_status(
        instance_id,
        status.runtime_status.value if status.runtime_status else "Unknown",
        custom,
        status.output if isinstance(status.output, dict) else None,
        children,
        str(status.created_time or ""),
        str(status.last_updated_time or ""),
        staging,
    )
    running = status.runtime_status in ACTIVE
    return _json_response(shaped, 202 if running else 200)


@starters.route(route="publish/{instance_id}/runs", methods=["GET"])
@starters.durable_client_input(client_name="client")
async def publish_runs(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Every run of the job that `instance_id` (any of its runs) belongs to, oldest first."""
    job_id = job_id_of(req.route_params["instance_id"])
    if not is_job_instance_id(job_id):  # it goes into the Durable API's URLs
        return _json_response({"error": "not a job id: use the instance_id the start answered"}, 400)
    runs: list[dict[str, Any]] = []
    while status := await client.get_status(run_instance_id(job_id, len(runs) + 1), show_input=False):
        output = status.output if isinstance(status.output, dict) else {}
        runs.append({
            "instance_id": status.instance_id,
            "runtime_status": status.runtime_status.value if status.runtime_status else "Unknown",
            "outcome": (output.get("result") or {}).get("outcome"),
            "created_time": str(status.created_time or ""),
            "last_updated_time": str(status.last_updated_time or ""),
        })  # fmt: skip
    if not runs:
        return _json_response({"error": f"no job {job_id}"}, 404)
    return _json_response({"job_id": job_id, "runs": runs}, 200)


def _is_dynamic_vhd(container: str, blob_name: str) -> bool:
    """A dynamic VHD starts with a copy of its footer; a fixed one (or one still zeros) does not."""
    blob = app_services().blobs.get_blob_client(container, blob_name)
    try:
        head = blob.download_blob(offset=0, length=PROBE_SIZE).readall()
    except ResourceNotFoundError:
        return False
    return detect_vhd_head(head)


def _staged_by_a_job(container: str, blob_name: str) -> bool:
    """Blobs our stager writes carry their source in metadata (from the moment they are created)."""
    blob = app_services().blobs.get_blob_client(container, blob_name)
    try:
        return SOURCE_URL in (blob.get_blob_properties().metadata or {})
    except ResourceNotFoundError:
        return False


@starters.event_grid_trigger(arg_name="event")
@starters.durable_client_input(client_name="client")
async def start_from_blob(event: func.EventGridEvent, client: df.DurableOrchestrationClient) -> None:
    """A blob landed; start a job for a .vhd in a VHD container. Only the URL is read, never the content."""
    data = event.get_json() or {}
    url = str(data.get("url", ""))
    shown = redact_url(url)
    settings = app_settings()
    try:
        location = blob_location(shown, settings.blob_endpoint)  # decoded once: the blob the job uses
    except PublishError as error:
        log.warning("ignored %s: %s", shown, error)
        return
    container, blob_name = location or ("", "")
    if (
        event.event_type != "Microsoft.Storage.BlobCreated"
        or not blob_name.endswith(".vhd")
        or container not in VHD_CONTAINERS
    ):
        log.info("ignored %s for %s: not a .vhd in a VHD container", event.event_type, shown)
        return
    if _staged_by_a_job(container, blob_name):
        log.info("ignored %s: staged by a publishing job, which publishes it itself", shown)
        return
    # Without a query string, as every job's input (see source_stash): the app reads its own account.
    # Azure refuses a dynamic VHD an hour later: stage a fixed copy of it instead (url_type raw).
    dynamic = _is_dynamic_vhd(container, blob_name)
    body = {"image_url": shown, "url_type": "raw" if dynamic else "vhd", "dry_run": settings.blob_trigger_dry_run,
            "public_gallery": settings.blob_trigger_public}  # fmt: skip
    try:
        request = parse_job_request(body, settings)
    except PublishError as error:
        log.warning("ignored %s: %s", shown, error)
        return
    # A page blob raises BlobCreated when it is created, before its pages are written: the job
    # waits for the upload to finish (a valid footer) instead of failing on a half-written VHD.
    # A StartFailed propagates: the invocation fails and Event Grid delivers the event again.
    instance_id = await _run_id(client, job_instance_id(request, settings))
    started = await _start(client, instance_id, PublishJob(body, wait_for_upload=True).to_json())
    log.info("%s for %s", f"started job {started}" if started else "a job is already running", shown)


@starters.timer_trigger(schedule="0 17 * * * *", arg_name="timer", run_on_startup=False)
def clean_up_leftovers(timer: func.TimerRequest) -> None:
    """Hourly: incomplete blobs our stager left, older than GALLERY_PUBLISHER_CLEANUP_AFTER_HOURS,
    are listed in the log, and deleted only when GALLERY_PUBLISHER_CLEANUP_DELETE is true."""
    done = leftovers.clean_up_leftovers(
        app_services().blobs, app_settings(), sorted(VHD_CONTAINERS), datetime.now(UTC)
    )
    log.info("%s", done.describe())


def create_app() -> df.DFApp:
    """A new app with every function registered (the local runner builds one per stack)."""
    keep_secrets_out_of_logs()
    app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
    for blueprint in (starters, publish_image.bp, gallery_version.bp, activities_blueprint.bp):
        app.register_functions(blueprint)
    app.register_functions(job_page_blueprint.bp)
    return app


app = create_app()
