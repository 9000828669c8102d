"""The job report's records keep every field through JSON, and the summary says exactly what happened
to each version (published before, created, failed) and to the staged blob."""

from __future__ import annotations

import json
from typing import Any

from gallery_publisher.jobs.report import JobResult, RegionState, VersionOutcome, render_markdown
from gallery_publisher.planning.plan import PublishRequest, make_plan
from gallery_publisher.planning.settings import load_settings

RAW = "https://b.s3.amazonaws.com/AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw"
PLAN = make_plan(PublishRequest(RAW, dry_run=False), load_settings({})).to_json()


def _version(state: str, **fields: Any) -> VersionOutcome:
    return VersionOutcome("almalinux_ci", "almalinux-9-gen1", "9.6.2025052201", state, **fields)


def _lines(result: JobResult) -> list[str]:
    return render_markdown(result).splitlines()


def test_a_failed_result_keeps_every_field_through_json() -> None:
    """The result travels between orchestrator and activities as JSON: nothing may be lost."""
    result = JobResult(
        plan=PLAN,
        outcome="failed",
        versions=(
            _version(
                "Failed",
                regions=(RegionState("eastus", "Failed", 40),),
                seconds=12.5,
                error_code="ReplicationJobsNotCompleted",
                error_message="replication failed",
            ),
        ),
        staged={"md5": "0" * 32, "size": 1049088, "reused": True},
        failed_step="publish",
        error_code="VersionFailed",
        error_message="1 of 1 versions failed",
        durations={"stage": 3.0, "publish": 61.5},
    )
    data = json.loads(json.dumps(result.to_json()))
    assert set(data) == {
        "plan", "outcome", "versions", "staged", "failed_step", "error_code", "error_message", "durations"
    }  # fmt: skip
    assert data["versions"][0] == {
        "gallery": "almalinux_ci",
        "definition": "almalinux-9-gen1",
        "version": "9.6.2025052201",
        "state": "Failed",
        "regions": [{"region": "eastus", "state": "Failed", "progress": 40}],
        "seconds": 12.5,
        "error_code": "ReplicationJobsNotCompleted",
        "error_message": "replication failed",
    }
    back = JobResult.from_json(data)
    assert back == result
    assert (back.staged, back.failed_step, back.error_code, back.error_message, back.durations) == (
        {"md5": "0" * 32, "size": 1049088, "reused": True},
        "publish",
        "VersionFailed",
        "1 of 1 versions failed",
        {"stage": 3.0, "publish": 61.5},
    )


def test_a_result_read_from_json_without_the_optional_fields_has_none_of_them() -> None:
    result = JobResult.from_json({"plan": PLAN, "outcome": "published", "versions": [
        {"gallery": "g", "definition": "d", "version": "1.0.0", "state": "Succeeded"}]})  # fmt: skip
    assert (result.staged, result.failed_step, result.error_code, result.error_message) == (None, "", "", "")
    assert result.durations == {}
    version = result.versions[0]
    assert (version.regions, version.seconds, version.error_code, version.error_message) == ((), 0.0, "", "")


def test_a_version_published_before_is_reported_as_such_not_as_created() -> None:
    """A re-run that finds the version done took no time to create it: never "Created … in 0 s"."""
    result = JobResult(plan=PLAN, outcome="published", versions=(_version("AlreadyPublished"),))
    lines = _lines(result)
    assert "- Already published: 'almalinux_ci/almalinux-9-gen1/9.6.2025052201' (nothing to do)" in lines
    assert not any(line.startswith("- Created") for line in lines)
    assert "- Released to Gallery: ✅" in lines


def test_a_version_that_failed_without_an_error_code_shows_no_empty_error() -> None:
    result = JobResult(plan=PLAN, outcome="failed", versions=(_version("TimedOut"),), failed_step="publish")
    assert "- Failed (TimedOut): 'almalinux_ci/almalinux-9-gen1/9.6.2025052201'" in _lines(result)
    assert "- Failed at step **publish**:" in _lines(result)


def test_a_job_succeeds_when_published_or_a_dry_run() -> None:
    assert JobResult(plan=PLAN, outcome="published").succeeded
    assert JobResult(plan=PLAN, outcome="dry_run").succeeded
    assert not JobResult(plan=PLAN, outcome="failed").succeeded


def test_a_version_succeeds_when_created_or_published_before() -> None:
    assert _version("Succeeded").succeeded and _version("AlreadyPublished").succeeded
    assert not _version("Failed").succeeded and not _version("TimedOut").succeeded


def test_the_staged_line_says_when_the_blob_was_reused() -> None:
    staged = {"md5": "ab" * 16, "size": 1049088}
    fresh = _lines(JobResult(plan=PLAN, outcome="published", staged={**staged, "reused": False}))
    assert f"- VHD MD5: `{'ab' * 16}`, 1,049,088 bytes" in fresh
    reused = _lines(JobResult(plan=PLAN, outcome="published", staged={**staged, "reused": True}))
    assert (
        f"- VHD MD5: `{'ab' * 16}`, 1,049,088 bytes (reused: staged earlier from the same source)" in reused
    )


def test_a_source_never_checked_is_stated_as_such() -> None:
    staged = {"md5": "0" * 32, "size": 512, "reused": True, "source_verified": None}
    assert "- Source verified: ❌ not checked (reused a blob staged before SHA-256 was recorded)" in _lines(
        JobResult(plan=PLAN, outcome="published", staged=staged)
    )


def test_a_job_that_failed_before_reading_its_request_says_no_image() -> None:
    result = JobResult(plan={}, outcome="failed", failed_step="plan", error_code="BadRequest")
    assert _lines(result) == [
        "**(no image)**:",
        "- Released to Gallery: ❌",
        "- Failed at step **plan**: `BadRequest`",
    ]


def test_a_result_names_no_failed_step_and_no_error_unless_told() -> None:
    result = JobResult(plan=PLAN, outcome="published")
    assert (result.staged, result.failed_step, result.error_code, result.error_message) == (None, "", "", "")
