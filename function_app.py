"""Composition root of the Function App: the durable app, its two starters, and its blueprints.

Starters: `POST /api/publish` (the release workflow or a person) and a BlobCreated event from
Event Grid (a VHD landing in a container). Both start the same `publish_image` orchestration
under an instance id derived from the image and gallery, so the same job never runs twice.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import unquote

import azure.durable_functions as df
import azure.functions as func
from azure.core.exceptions import ResourceNotFoundError

from activities import blueprint as activities_blueprint
from activities.services import app_services, app_settings
from gallery_publisher.disk_formats import PROBE_SIZE, detect_vhd_head
from gallery_publisher.errors import PublishError
from gallery_publisher.families import FAMILIES
from gallery_publisher.job_request import job_instance_id, parse_job_request
from gallery_publisher.job_status import shape_job_status
from gallery_publisher.log_policy import keep_secrets_out_of_logs
from gallery_publisher.plan import PublishRequest
from gallery_publisher.storage import SOURCE_URL, staging_progress
from gallery_publisher.urls import redact_url
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


async def _start(
    client: df.DurableOrchestrationClient, request: PublishRequest, job: dict[str, Any]
) -> str | None:
    """Start the job unless the same one is running; return its instance id, or None when it runs."""
    settings = app_settings()
    instance_id = job_instance_id(request, settings)
    existing = await client.get_status(instance_id, show_input=False)
    if existing and existing.runtime_status in ACTIVE:
        return None
    try:
        await client.start_new(names.PUBLISH_IMAGE, instance_id, job)
    except Exception:
        # A racing identical request started it between our check and our start.
        return None
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
    instance_id = job_instance_id(request, settings)
    started = await _start(client, request, {"request": body, "wait_for_upload": False})
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
    check = client.create_check_status_response(req, instance_id)
    return _json_response(
        {**json.loads(check.get_body()), "instance_id": instance_id, "status_url": status_url}, 202
    )


@starters.route(route="publish/{instance_id}", methods=["GET"])
@starters.durable_client_input(client_name="client")
async def publish_status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = req.route_params["instance_id"]
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


def _is_dynamic_vhd(container: str, blob_name: str) -> bool:
    """A dynamic VHD starts with a copy of its footer; a fixed one (or one still zeros) does not."""
    blob = app_services().blobs.get_blob_client(container, unquote(blob_name))
    try:
        head = blob.download_blob(offset=0, length=PROBE_SIZE).readall()
    except ResourceNotFoundError:
        return False
    return detect_vhd_head(head)


def _staged_by_a_job(container: str, blob_name: str) -> bool:
    """Blobs our stager writes carry their source in metadata (from the moment they are created)."""
    blob = app_services().blobs.get_blob_client(container, unquote(blob_name))
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
    endpoint = settings.blob_endpoint.rstrip("/") + "/"
    container = shown[len(endpoint) :].split("/", 1)[0] if shown.startswith(endpoint) else ""
    if (
        event.event_type != "Microsoft.Storage.BlobCreated"
        or not shown.endswith(".vhd")
        or container not in VHD_CONTAINERS
    ):
        log.info("ignored %s for %s: not a .vhd in a VHD container", event.event_type, shown)
        return
    if _staged_by_a_job(container, shown[len(endpoint) + len(container) + 1 :]):
        log.info("ignored %s: staged by a publishing job, which publishes it itself", shown)
        return
    # Azure refuses a dynamic VHD an hour later: stage a fixed copy of it instead (url_type raw).
    dynamic = _is_dynamic_vhd(container, shown[len(endpoint) + len(container) + 1 :])
    body = {"image_url": url, "url_type": "raw" if dynamic else "vhd", "dry_run": settings.blob_trigger_dry_run,
            "public_gallery": settings.blob_trigger_public}  # fmt: skip
    try:
        request = parse_job_request(body, settings)
    except PublishError as error:
        log.warning("ignored %s: %s", shown, error)
        return
    # A page blob raises BlobCreated when it is created, before its pages are written: the job
    # waits for the upload to finish (a valid footer) instead of failing on a half-written VHD.
    started = await _start(client, request, {"request": body, "wait_for_upload": True})
    log.info("%s for %s", f"started job {started}" if started else "a job is already running", shown)


def create_app() -> df.DFApp:
    """A new app with every function registered (the local runner builds one per stack)."""
    keep_secrets_out_of_logs()
    app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
    for blueprint in (starters, publish_image.bp, gallery_version.bp, activities_blueprint.bp):
        app.register_functions(blueprint)
    return app


app = create_app()
