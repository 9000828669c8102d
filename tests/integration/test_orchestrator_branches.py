"""Two branches of the orchestrators, on the durable runner's virtual clock: the re-plan when the planned
blob name is taken, and a gallery version that reaches its deadline.

The app's own orchestrators run through the real azure-functions-durable replay engine; hours of durable
timers pass in milliseconds. The activities are stand-ins that answer with the app's messages what the
real ones answer in these cases (the plan comes from the real planner), and record what they were asked.
"""

# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import threading

import azure.durable_functions as df
import azure.functions as func

from gallery_publisher.errors import BLOB_NAME_TAKEN, DEADLINE_EXCEEDED, error_code_of
from gallery_publisher.gallery.records import DefinitionInfo
from gallery_publisher.jobs.messages import (
    Answer,
    JsonObject,
    PlanInput,
    PublishJob,
    ReportInput,
    StageInput,
    VersionJob,
)
from gallery_publisher.jobs.report import JobResult, RegionState, render_markdown
from gallery_publisher.jobs.request import parse_job_request
from gallery_publisher.planning.plan import ExistingState, make_plan
from gallery_publisher.planning.settings import Settings, load_settings
from gallery_publisher.publishing import PreparedJob
from gallery_publisher.staging.stager import BlobNameTakenError
from local.durable_runner import DurableRunner, InstanceStatus, RuntimeStatus, VirtualClock
from orchestrators import gallery_version, names, publish_image

IMAGE_URL = "https://almalinux-images.s3.amazonaws.com/AlmaLinux-9-Azure-9.6-20250604.0.x86_64.raw"
# Not the defaults (180 minutes, 60 s): a setting lost on its way to the orchestrator shows.
DEADLINE_MINUTES = 30
POLL_SECONDS = 90
SETTINGS = load_settings({
    "GALLERY_PUBLISHER_VERSION_DEADLINE_MINUTES": str(DEADLINE_MINUTES),
    "GALLERY_PUBLISHER_POLL_SECONDS": str(POLL_SECONDS),
})  # fmt: skip
MOST_POLLS = DEADLINE_MINUTES * 60 // POLL_SECONDS + 2


class StandIns:
    """Activities answering as the real ones do; `taken` blob names hold another source's VHD, and a
    gallery version succeeds at its first poll when it `replicates`, else never finishes replicating.
    Every call is recorded (name, input)."""

    def __init__(self, settings: Settings, taken: set[str], replicates: bool) -> None:
        self.settings = settings
        self.taken = taken
        self.replicates = replicates
        self.calls: list[tuple[str, JsonObject]] = []
        self._lock = threading.Lock()

    def record(self, name: str, given: JsonObject) -> None:
        with self._lock:
            self.calls.append((name, given))

    def inputs(self, name: str) -> list[JsonObject]:
        return [given for called, given in self.calls if called == name]

    def plan(self, given: PlanInput) -> Answer:
        request = parse_job_request(given.request, self.settings)
        # As read_existing_state counts them: a taken blob exists, so its index is used.
        plan = make_plan(request, self.settings, ExistingState(blob_names=given.taken_blobs))
        found = tuple(DefinitionInfo(v.gallery, v.definition, "eastus", v.hyper_v_generation, v.architecture)
                      for v in plan.versions)  # fmt: skip
        return Answer("done", plan=PreparedJob(plan, found, ExistingState()).to_json())

    def stage(self, given: StageInput) -> Answer:
        name = given.plan["blob_name"]
        if name in self.taken:
            # What stage_raw answers when the stager raises this error.
            error = BlobNameTakenError(f"9-default/{name} holds another source's VHD")
            return Answer.failed(error_code_of(error), str(error))
        staged = {"blob_url": given.plan["blob_url"], "md5": "0" * 32, "size": 1024 * 1024 + 512,
                  "uploaded_bytes": 0, "skipped_bytes": 0, "seconds": 1.0, "reused": False,
                  "source_sha256": "1" * 64, "source_verified": True, "source_check": ""}  # fmt: skip
        return Answer("done", staged=staged)

    def app(self) -> df.DFApp:
        stubs = df.Blueprint()

        @stubs.activity_trigger(input_name="job", activity=names.PLAN_JOB)
        def plan_job(job: JsonObject) -> JsonObject:
            self.record(names.PLAN_JOB, job)
            return self.plan(PlanInput.from_json(job)).to_json()

        @stubs.activity_trigger(input_name="job", activity=names.STAGE_RAW)
        def stage_raw(job: JsonObject) -> JsonObject:
            self.record(names.STAGE_RAW, job)
            return self.stage(StageInput.from_json(job)).to_json()

        @stubs.activity_trigger(input_name="job", activity=names.FORGET_SOURCE_URL)
        def forget_source_url(job: JsonObject) -> JsonObject:
            return Answer("done").to_json()

        @stubs.activity_trigger(input_name="job", activity=names.START_GALLERY_VERSION)
        def start_gallery_version(job: JsonObject) -> JsonObject:
            self.record(names.START_GALLERY_VERSION, job)
            return Answer("started", operation_url="https://management.azure.com/op/1").to_json()

        @stubs.activity_trigger(input_name="job", activity=names.POLL_GALLERY_VERSION)
        def poll_gallery_version(job: JsonObject) -> JsonObject:
            self.record(names.POLL_GALLERY_VERSION, job)
            polled = sum(VersionJob.from_json(given).path == VersionJob.from_json(job).path
                         for given in self.inputs(names.POLL_GALLERY_VERSION))  # fmt: skip
            if (
                polled > MOST_POLLS
            ):  # ends a job that would poll on past the deadline (each replay costs more)
                return Answer.failed("PolledPastTheDeadline", f"polled {polled} times").to_json()
            if self.replicates:
                done = (RegionState("East US", "Completed", 100),)
                return Answer("done", provisioning_state="Succeeded", regions=done).to_json()
            regions = (RegionState("East US", "Replicating", 40),)
            return Answer("progress", provisioning_state="Creating", regions=regions).to_json()

        @stubs.activity_trigger(input_name="report", activity=names.REPORT_JOB)
        def report_job(report: JsonObject) -> JsonObject:
            summary = render_markdown(JobResult.from_json(ReportInput.from_json(report).result))
            return Answer("done", summary=summary).to_json()

        app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
        for blueprint in (publish_image.bp, gallery_version.bp, stubs):
            app.register_functions(blueprint)
        return app


def run_job(stand_ins: StandIns) -> InstanceStatus:
    with DurableRunner(stand_ins.app(), clock=VirtualClock()) as runner:
        job = PublishJob({"image_url": IMAGE_URL, "dry_run": False})
        instance_id = runner.start_new(names.PUBLISH_IMAGE, job.to_json())
        runner.run_until_idle()
        status = runner.status(instance_id)
    assert status is not None
    return status


def blob_name(index: int) -> str:
    return f"almalinux-9.6-x86_64.20250604-{index:02d}.vhd"


def test_a_taken_blob_name_is_planned_again_with_the_next_index_and_the_job_goes_on() -> None:
    stand_ins = StandIns(SETTINGS, taken={blob_name(1), blob_name(2)}, replicates=True)
    status = run_job(stand_ins)

    assert status.runtime_status is RuntimeStatus.COMPLETED
    assert status.output["result"]["outcome"] == "published"

    # Each plan is told every name staging refused so far, so it picks the next free index.
    plans = [PlanInput.from_json(given).taken_blobs for given in stand_ins.inputs(names.PLAN_JOB)]
    assert plans == [(), (blob_name(1),), (blob_name(1), blob_name(2))]
    staged = [StageInput.from_json(given).plan["blob_name"] for given in stand_ins.inputs(names.STAGE_RAW)]
    assert staged == [blob_name(1), blob_name(2), blob_name(3)]
    # The versions are made from the blob that was staged, and the job reports it.
    sources = {
        VersionJob.from_json(given).source_uri for given in stand_ins.inputs(names.START_GALLERY_VERSION)
    }
    assert sources == {f"{SETTINGS.blob_endpoint.rstrip('/')}/9-default/{blob_name(3)}"}
    assert status.custom_status["plan"][0].endswith(f"9-default/{blob_name(3)} (one pass: MD5 of the whole "
                                                    "VHD, zero chunks skipped, Content-MD5 set last)")  # fmt: skip
    assert status.custom_status["blob"] == blob_name(3)
    assert status.output["result"]["staged"]["blob_url"].endswith(f"/9-default/{blob_name(3)}")


def test_a_blob_name_taken_at_every_plan_fails_the_job_at_staging_after_three_plans() -> None:
    stand_ins = StandIns(SETTINGS, taken={blob_name(index) for index in range(1, 10)}, replicates=True)
    status = run_job(stand_ins)

    assert status.runtime_status is RuntimeStatus.FAILED
    assert len(stand_ins.inputs(names.PLAN_JOB)) == publish_image.MOST_PLANS
    assert stand_ins.inputs(names.START_GALLERY_VERSION) == []
    result = status.custom_status["result"]
    assert (result["failed_step"], result["error_code"]) == ("stage", BLOB_NAME_TAKEN)
    assert blob_name(publish_image.MOST_PLANS) in result["error_message"]


def test_a_version_not_done_by_its_deadline_times_out_on_the_polls_of_the_poll_interval() -> None:
    never_replicates = StandIns(SETTINGS, taken=set(), replicates=False)
    status = run_job(never_replicates)

    assert status.runtime_status is RuntimeStatus.FAILED
    result = status.custom_status["result"]
    assert (result["failed_step"], result["error_code"]) == ("publish", DEADLINE_EXCEEDED)
    # Started at 0, polled every POLL_SECONDS of durable timer, given up at the first poll at or after
    # the deadline (DEADLINE_MINUTES is a whole number of polls here).
    deadline = DEADLINE_MINUTES * 60
    assert deadline % POLL_SECONDS == 0
    for outcome in result["versions"]:
        assert (outcome["state"], outcome["error_code"]) == ("TimedOut", DEADLINE_EXCEEDED)
        assert outcome["seconds"] == deadline
        assert f"not done after {DEADLINE_MINUTES} minutes" in outcome["error_message"]
        assert outcome["regions"] == [{"region": "East US", "state": "Replicating", "progress": 40}]
    polls = [VersionJob.from_json(given) for given in never_replicates.inputs(names.POLL_GALLERY_VERSION)]
    assert len(polls) == len(result["versions"]) * (deadline // POLL_SECONDS)
    assert {poll.operation_url for poll in polls} == {"https://management.azure.com/op/1"}
    assert (
        "- Failed (TimedOut): 'almalinux_ci/almalinux-9-gen1/9.6.2025060401'"
        in status.custom_status["summary"]
    )
