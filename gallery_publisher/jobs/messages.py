"""The messages between the orchestrators and the activities: each written once, typed.

Durable passes them through the task hub as JSON, so each record has `to_json()` and `from_json()`;
the activities read their input with `from_json` and answer with an `Answer`, the orchestrators
build the inputs and read the answers. Pure: no I/O (the orchestrators import it).

The plan and the staged blob travel as the JSON the job's report and status show (PublishPlan.to_json()
with each version's location; the stager's or validator's record): they are shown to users as they are.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from gallery_publisher.errors import DYNAMIC_VHD, VHD_BLOB_UNFINISHED
from gallery_publisher.gallery.records import VersionRef
from gallery_publisher.jobs.report import RegionState
from gallery_publisher.planning.settings import TargetRegion

# The Python worker refuses a PEP 585 generic (`dict[str, Any]`) on a function's bound parameter ("invalid
# non-type annotation") and then loads no function at all; a `typing` generic passes its check.
JsonObject = typing.Dict[str, Any]  # noqa: UP006


# done: the step did what it was asked (a poll: the version reached its final state, which may be Failed);
# started / progress: a gallery version is on its way; retry: throttled, ask again after `retry_after`;
# error: refused or failed, `error_code` and `error_message` say why.
AnswerStatus = Literal["done", "started", "progress", "retry", "error"]
ANSWER_STATUSES: tuple[AnswerStatus, ...] = typing.get_args(AnswerStatus)


def _regions(data: Any) -> tuple[RegionState, ...]:
    return tuple(RegionState(r["region"], r["state"], int(r["progress"])) for r in data or ())


def _dimensions(data: Any) -> dict[str, str]:
    return {str(key): str(value) for key, value in (data or {}).items()}


@dataclass(frozen=True)
class Answer:
    """Every activity's answer. Fields an activity has nothing to say about keep their defaults."""

    status: AnswerStatus
    error_code: str = ""
    error_message: str = ""
    retry_after: float | None = None  # retry: the wait Azure asked for (None: the caller's own)
    plan: JsonObject | None = None  # plan_job
    staged: JsonObject | None = None  # stage_raw, validate_vhd
    etag: str = ""  # validate_vhd of a dynamic VHD: the state of the blob found dynamic
    operation_url: str | None = None  # start_gallery_version: the create's status URL
    provisioning_state: str | None = None  # start/poll_gallery_version; None: not known from this answer
    regions: tuple[RegionState, ...] = ()  # poll_gallery_version: per-region replication
    message: str = ""  # start_gallery_version: what the gallery client found
    summary: str = ""  # report_job: the Markdown summary
    notified: bool = False  # report_job
    notify_error: str = ""  # report_job

    @property
    def ok(self) -> bool:
        """The activity did its part (a throttled call did not: it is to be made again)."""
        return self.status not in ("error", "retry")

    @property
    def upload_unfinished(self) -> bool:
        return self.error_code == VHD_BLOB_UNFINISHED

    @property
    def dynamic_vhd(self) -> bool:
        return self.error_code == DYNAMIC_VHD

    @classmethod
    def failed(cls, error_code: str, error_message: str) -> Answer:
        return cls("error", error_code=error_code, error_message=error_message)

    def to_json(self) -> JsonObject:
        return {
            "status": self.status,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "retry_after": self.retry_after,
            "plan": self.plan,
            "staged": self.staged,
            "etag": self.etag,
            "operation_url": self.operation_url,
            "provisioning_state": self.provisioning_state,
            "regions": [region_json(r) for r in self.regions],
            "message": self.message,
            "summary": self.summary,
            "notified": self.notified,
            "notify_error": self.notify_error,
        }

    @classmethod
    def from_json(cls, data: JsonObject) -> Answer:
        status = data.get("status")
        if status not in ANSWER_STATUSES:
            raise ValueError(
                f"an activity answered status {status!r}, not one of {', '.join(ANSWER_STATUSES)}"
            )
        return cls(
            status=status,
            error_code=str(data.get("error_code") or ""),
            error_message=str(data.get("error_message") or ""),
            retry_after=data.get("retry_after"),
            plan=data.get("plan"),
            staged=data.get("staged"),
            etag=str(data.get("etag") or ""),
            operation_url=data.get("operation_url"),
            provisioning_state=data.get("provisioning_state"),
            regions=_regions(data.get("regions")),
            message=str(data.get("message") or ""),
            summary=str(data.get("summary") or ""),
            notified=bool(data.get("notified")),
            notify_error=str(data.get("notify_error") or ""),
        )


def region_json(region: RegionState) -> JsonObject:
    """A region as the job's status and report show it."""
    return {"region": region.region, "state": region.state, "progress": region.progress}


@dataclass(frozen=True)
class PublishJob:
    """The input of the publish_image orchestration, as the HTTP and Event Grid starters make it."""

    request: JsonObject  # the request body, without a source URL's signature (see source_stash)
    wait_for_upload: bool = False  # started by a blob landing: wait for its upload to finish

    def to_json(self) -> JsonObject:
        return {"request": self.request, "wait_for_upload": self.wait_for_upload}

    @classmethod
    def from_json(cls, data: JsonObject) -> PublishJob:
        return cls(dict(data["request"]), bool(data.get("wait_for_upload", False)))

    @property
    def image_url(self) -> str:
        return str(self.request["image_url"])


@dataclass(frozen=True)
class PlanInput:
    """plan_job: plan the request; blob names in `taken_blobs` held another source's VHD."""

    request: JsonObject
    taken_blobs: tuple[str, ...] = ()
    telemetry: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> JsonObject:
        return {"request": self.request, "taken_blobs": list(self.taken_blobs), "telemetry": self.telemetry}

    @classmethod
    def from_json(cls, data: JsonObject) -> PlanInput:
        return cls(
            dict(data["request"]), tuple(data.get("taken_blobs") or ()), _dimensions(data.get("telemetry"))
        )


@dataclass(frozen=True)
class StageInput:
    """stage_raw: stage the plan's source; `instance_id` finds a signed source URL stashed for the job."""

    image_url: str
    instance_id: str
    plan: JsonObject
    telemetry: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> JsonObject:
        return {
            "image_url": self.image_url,
            "instance_id": self.instance_id,
            "plan": self.plan,
            "telemetry": self.telemetry,
        }

    @classmethod
    def from_json(cls, data: JsonObject) -> StageInput:
        return cls(
            str(data["image_url"]),
            str(data["instance_id"]),
            dict(data["plan"]),
            _dimensions(data.get("telemetry")),
        )


@dataclass(frozen=True)
class VhdInput:
    """validate_vhd and release_vhd: the plan's VHD. validate_vhd holds it at `hold_etag` when given
    ("*": at the ETag it just validated); release_vhd lets it be written again."""

    plan: JsonObject
    hold_etag: str | None = None
    telemetry: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> JsonObject:
        return {"plan": self.plan, "hold_etag": self.hold_etag, "telemetry": self.telemetry}

    @classmethod
    def from_json(cls, data: JsonObject) -> VhdInput:
        return cls(dict(data["plan"]), data.get("hold_etag"), _dimensions(data.get("telemetry")))


@dataclass(frozen=True)
class ForgetInput:
    """forget_source_url: the job whose stashed signed source URL goes."""

    instance_id: str

    def to_json(self) -> JsonObject:
        return {"instance_id": self.instance_id}

    @classmethod
    def from_json(cls, data: JsonObject) -> ForgetInput:
        return cls(str(data["instance_id"]))


@dataclass(frozen=True)
class ReportInput:
    """report_job: render the result (JobResult JSON); post it when `notify`, once per `notification_key`."""

    result: JsonObject
    notify: bool = False
    notification_key: str = ""
    telemetry: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> JsonObject:
        return {
            "result": self.result,
            "notify": self.notify,
            "notification_key": self.notification_key,
            "telemetry": self.telemetry,
        }

    @classmethod
    def from_json(cls, data: JsonObject) -> ReportInput:
        return cls(
            dict(data["result"]),
            bool(data.get("notify", False)),
            str(data.get("notification_key") or ""),
            _dimensions(data.get("telemetry")),
        )


@dataclass(frozen=True)
class VersionJob:
    """One gallery version to create and follow: the gallery_version orchestration's input, and (with
    the create's `operation_url` once it is known) the input of start/poll_gallery_version."""

    gallery: str
    definition: str
    version: str
    hyper_v_generation: str
    architecture: str
    location: str  # the definition's region: a version lives where its definition does
    resource_group: str
    source_uri: str  # the URL of the blob client that staged or validated it: one URL, one blob
    source_md5: str
    storage_account_id: str
    target_regions: tuple[TargetRegion, ...]
    storage_account_type: str
    replication_mode: str
    exclude_from_latest: bool
    end_of_life_date: str | None  # ISO date
    deadline_minutes: int
    poll_seconds: int
    telemetry: dict[str, str] | None = None  # None: started by hand, not by publish_image
    operation_url: str | None = None

    @property
    def ref(self) -> VersionRef:
        return VersionRef(self.gallery, self.definition, self.version)

    @property
    def path(self) -> str:
        return str(self.ref)

    def polling(self, operation_url: str | None) -> VersionJob:
        return replace(self, operation_url=operation_url)

    @classmethod
    def from_plan(
        cls, plan: JsonObject, version: JsonObject, staged: JsonObject, dimensions: dict[str, str]
    ) -> VersionJob:
        """A version of the plan (its entry in plan["versions"]), made from the staged or validated blob."""
        return cls(
            gallery=version["gallery"],
            definition=version["definition"],
            version=version["version"],
            hyper_v_generation=version["hyper_v_generation"],
            architecture=version["architecture"],
            location=version["location"],
            resource_group=plan["resource_group"],
            source_uri=staged.get("blob_url") or plan["blob_url"],
            source_md5=staged.get("md5", ""),
            storage_account_id=plan["storage_account_id"],
            target_regions=tuple(TargetRegion(r["name"], r["replicas"]) for r in plan["target_regions"]),
            storage_account_type=plan["storage_account_type"],
            replication_mode=plan["replication_mode"],
            exclude_from_latest=plan["exclude_from_latest"],
            end_of_life_date=plan["end_of_life_date"],
            deadline_minutes=plan["version_deadline_minutes"],
            poll_seconds=plan["poll_seconds"],
            telemetry={**dimensions, "definition": version["definition"], "version": version["version"]},
        )

    def to_json(self) -> JsonObject:
        return {
            "gallery": self.gallery,
            "definition": self.definition,
            "version": self.version,
            "hyper_v_generation": self.hyper_v_generation,
            "architecture": self.architecture,
            "location": self.location,
            "resource_group": self.resource_group,
            "source_uri": self.source_uri,
            "source_md5": self.source_md5,
            "storage_account_id": self.storage_account_id,
            "target_regions": [{"name": r.name, "replicas": r.replicas} for r in self.target_regions],
            "storage_account_type": self.storage_account_type,
            "replication_mode": self.replication_mode,
            "exclude_from_latest": self.exclude_from_latest,
            "end_of_life_date": self.end_of_life_date,
            "deadline_minutes": self.deadline_minutes,
            "poll_seconds": self.poll_seconds,
            "telemetry": self.telemetry,
            "operation_url": self.operation_url,
        }

    @classmethod
    def from_json(cls, data: JsonObject) -> VersionJob:
        telemetry = data.get("telemetry")
        return cls(
            gallery=str(data["gallery"]),
            definition=str(data["definition"]),
            version=str(data["version"]),
            hyper_v_generation=str(data.get("hyper_v_generation", "")),
            architecture=str(data.get("architecture", "")),
            location=str(data["location"]),
            resource_group=str(data["resource_group"]),
            source_uri=str(data["source_uri"]),
            source_md5=str(data.get("source_md5") or ""),
            storage_account_id=str(data["storage_account_id"]),
            target_regions=tuple(
                TargetRegion(str(r["name"]), int(r["replicas"])) for r in data["target_regions"]
            ),
            storage_account_type=str(data["storage_account_type"]),
            replication_mode=str(data["replication_mode"]),
            exclude_from_latest=bool(data["exclude_from_latest"]),
            end_of_life_date=data.get("end_of_life_date"),
            deadline_minutes=int(data["deadline_minutes"]),
            poll_seconds=int(data["poll_seconds"]),
            telemetry=_dimensions(telemetry) if isinstance(telemetry, dict) else None,
            operation_url=data.get("operation_url"),
        )
