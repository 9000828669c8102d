"""The worst failed job still fits the runtime's 16 KB of custom status, and loses no text.

Two versions, five regions each, every region failing with a very long Azure error, run through the
durable runner (which fails an orchestration over 16 KB as the extension does) with the app's own
orchestrators. The activities are stand-ins that answer what the gallery answers in that case: the
emulator's errors are short, and what is tested here is the orchestrators' status, not the gallery.
"""

# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import typing
from collections.abc import Iterator
from typing import Any

import azure.durable_functions as df
import azure.functions as func
import pytest

from gallery_publisher.gallery.records import DefinitionInfo
from gallery_publisher.jobs.custom_status import LIMIT_BYTES, bounded_status, utf16_json_size
from gallery_publisher.jobs.messages import Answer, PlanInput, ReportInput, StageInput, VersionJob
from gallery_publisher.jobs.report import JobResult, RegionState, render_markdown
from gallery_publisher.jobs.request import parse_job_request
from gallery_publisher.planning.plan import ExistingState, make_plan
from gallery_publisher.planning.settings import load_settings
from gallery_publisher.publishing import PreparedJob
from local.durable_runner import DurableRunner, RuntimeStatus, VirtualClock
from orchestrators import gallery_version, names, publish_image

IMAGE_URL = "https://almalinux-images.s3.amazonaws.com/AlmaLinux-9-Azure-9.6-20250604.0.x86_64.raw"
REGIONS = ("East US", "Germany West Central", "West US 2", "Southeast Asia", "South Central US")


def azure_error(version: str, region: str) -> str:
    """Long, and different per version and region, as Azure's replication errors are."""
    detail = (
        f"Replication of gallery image version '{version}' to region '{region}' failed: the operation "
        "'CopyBlob' on the regional storage account did not complete within the allotted time. "
        "Correlation id 0f9c1d2e-3a4b-5c6d-7e8f-90a1b2c3d4e5. Inner error: "
    )
    return detail + "InternalExecutionError: " * 60


def failing_app() -> df.DFApp:
    settings = load_settings({})
    stubs = df.Blueprint()

    @stubs.activity_trigger(input_name="job", activity=names.PLAN_JOB)
    def plan_job(job: typing.Dict[str, Any]) -> typing.Dict[str, Any]:  # noqa: UP006 (the worker refuses dict[...])
        request = parse_job_request(PlanInput.from_json(job).request, settings)
        plan = make_plan(request, settings)
        # As plan_job answers: with the target definitions as the gallery's preflight found them.
        found = tuple(DefinitionInfo(v.gallery, v.definition, "eastus", v.hyper_v_generation, v.architecture)
                      for v in plan.versions)  # fmt: skip
        return Answer("done", plan=PreparedJob(plan, found, ExistingState()).to_json()).to_json()

    @stubs.activity_trigger(input_name="job", activity=names.STAGE_RAW)
    def stage_raw(job: typing.Dict[str, Any]) -> typing.Dict[str, Any]:  # noqa: UP006 (the worker refuses dict[...])
        staged = {"blob_url": StageInput.from_json(job).plan["blob_url"], "md5": "0" * 32, "size": 1024 * 1024 + 512,
                  "uploaded_bytes": 0, "skipped_bytes": 0, "seconds": 1.0, "reused": False,
                  "source_sha256": "1" * 64, "source_verified": True, "source_check": ""}  # fmt: skip
        return Answer("done", staged=staged).to_json()

    @stubs.activity_trigger(input_name="job", activity=names.START_GALLERY_VERSION)
    def start_gallery_version(job: typing.Dict[str, Any]) -> typing.Dict[str, Any]:  # noqa: UP006 (the worker refuses dict[...])
        return Answer("started", operation_url="https://management.azure.com/op/1").to_json()

    @stubs.activity_trigger(input_name="job", activity=names.POLL_GALLERY_VERSION)
    def poll_gallery_version(job: typing.Dict[str, Any]) -> typing.Dict[str, Any]:  # noqa: UP006 (the worker refuses dict[...])
        version = VersionJob.from_json(job).path
        regions = tuple(RegionState(r, "Failed", 37) for r in REGIONS)
        errors = " ".join(azure_error(version, region) for region in REGIONS)
        return Answer("done", provisioning_state="Failed", regions=regions,
                      error_code="GalleryReplicationFailed", error_message=errors).to_json()  # fmt: skip

    @stubs.activity_trigger(input_name="report", activity=names.REPORT_JOB)
    def report_job(report: typing.Dict[str, Any]) -> typing.Dict[str, Any]:  # noqa: UP006
        summary = render_markdown(JobResult.from_json(ReportInput.from_json(report).result))
        return Answer("done", summary=summary).to_json()

    app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
    for blueprint in (publish_image.bp, gallery_version.bp, stubs):
        app.register_functions(blueprint)
    return app


@pytest.fixture
def runner() -> Iterator[DurableRunner]:
    with DurableRunner(failing_app(), clock=VirtualClock()) as running:
        yield running


def test_the_worst_failed_job_fits_16_kb_and_its_output_keeps_every_error(runner: DurableRunner) -> None:
    instance_id = runner.start_new(
        names.PUBLISH_IMAGE, {"request": {"image_url": IMAGE_URL, "dry_run": False}, "wait_for_upload": False}
    )
    runner.run_until_idle()

    status = runner.status(instance_id)
    assert status is not None
    # Failed by the job, not by the runtime refusing the status.
    assert status.runtime_status is RuntimeStatus.FAILED
    assert "must not exceed 16 KB" not in str(status.output)
    assert str(status.output).startswith(
        "Orchestrator function 'publish_image' failed: failed at step publish"
    )
    custom = status.custom_status
    assert custom["step"] == "failed"
    assert custom["result"]["outcome"] == "failed"  # what `submit` reads
    assert "Failed at step **publish**" in custom["summary"]
    assert "the full text is in the job's output" in custom["summary"]
    every_status = [status.custom_status_history, *(s.custom_status_history for s in runner.statuses())]
    assert max(utf16_json_size(value) for history in every_status for value in history) <= LIMIT_BYTES
    # The output keeps every region's whole error, which the status had to cut.
    for definition in ("almalinux-9-gen1", "almalinux-9-gen2"):
        for region in REGIONS:
            whole = azure_error(f"almalinux_ci/{definition}/9.6.2025060401", region).rstrip()
            assert whole in str(status.output), (definition, region)


def test_the_unbounded_status_of_that_job_would_be_refused() -> None:
    """Guards the test above: without bounding, the same status is over the runtime's limit."""
    long_error = " ".join(azure_error("g/d/1.0.0", region) for region in REGIONS)
    result = {"outcome": "failed", "failed_step": "publish", "error_message": long_error,
              "versions": [{"error_message": long_error}, {"error_message": long_error}]}  # fmt: skip
    status = {"step": "failed", "image": "x.raw", "summary": long_error * 2, "result": result}

    assert utf16_json_size(status) > LIMIT_BYTES
    assert utf16_json_size(bounded_status(status)) <= LIMIT_BYTES
    assert bounded_status({"step": "plan", "image": "x.raw"}) == {"step": "plan", "image": "x.raw"}
