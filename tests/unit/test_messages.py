"""The messages between orchestrators and activities survive Durable's JSON whole, and an answer with a
status the orchestrators do not know is refused, naming it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gallery_publisher.jobs.messages import (
    ANSWER_STATUSES,
    Answer,
    ForgetInput,
    PlanInput,
    PublishJob,
    ReportInput,
    StageInput,
    VersionJob,
    VhdInput,
)
from gallery_publisher.jobs.report import RegionState
from gallery_publisher.planning.settings import TargetRegion

DIMENSIONS = {"instance_id": "job-1", "step": "publish"}
PLAN = {"blob_name": "almalinux-9.6-x86_64.20250604-01.vhd", "versions": [{"definition": "almalinux-9-gen2"}]}
# Every field away from its default, so that a field lost on the way shows.
MESSAGES: list[Any] = [
    Answer(
        "progress", error_code="Code", error_message="message", retry_after=12.5, plan=PLAN,
        staged={"md5": "ab", "size": 1}, operation_url="https://op/1", provisioning_state="Creating",
        regions=(RegionState("East US", "Replicating", 40),), message="found", summary="**summary**",
        notified=True, notify_error="not posted",
    ),
    PublishJob({"image_url": "https://x/AlmaLinux-9-Azure-9.6-20250604.0.x86_64.raw", "notify": True}, True),
    PlanInput({"image_url": "a.raw"}, ("b1.vhd", "b2.vhd"), DIMENSIONS),
    StageInput("https://x/a.raw", "job-1", PLAN, DIMENSIONS),
    VhdInput(PLAN, "0x8D", DIMENSIONS),
    ForgetInput("job-1"),
    ReportInput({"outcome": "failed"}, True, "job-1/20250101T000000000000Z", DIMENSIONS),
    VersionJob(
        gallery="almalinux_ci", definition="almalinux-9-gen2", version="9.6.2025060401", hyper_v_generation="V2",
        architecture="x64", location="eastus", resource_group="rg", source_uri="https://b/v.vhd", source_md5="ab",
        storage_account_id="/subscriptions/s/x", target_regions=(TargetRegion("eastus", 1), TargetRegion("westus2", 2)),
        storage_account_type="Standard_ZRS", replication_mode="Full", exclude_from_latest=True,
        end_of_life_date="2030-06-30", deadline_minutes=30, poll_seconds=90, telemetry=DIMENSIONS,
        operation_url="https://op/1",
    ),
]  # fmt: skip


@pytest.mark.parametrize("message", MESSAGES, ids=lambda message: type(message).__name__)
def test_every_message_survives_durable_json_whole(message: Any) -> None:
    carried = json.loads(json.dumps(message.to_json()))
    assert type(message).from_json(carried) == message


def test_only_a_failed_or_throttled_answer_is_not_ok() -> None:
    assert {status: Answer(status).ok for status in ANSWER_STATUSES} == {
        "done": True, "started": True, "progress": True, "retry": False, "error": False,
    }  # fmt: skip


def test_an_answer_with_an_unknown_status_is_refused_naming_it() -> None:
    with pytest.raises(
        ValueError, match=r"status 'finished', not one of done, started, progress, retry, error"
    ):
        Answer.from_json({"status": "finished"})
