"""Structured telemetry: a full local job emits every listed event with the right dimension values,
and every line of a job carries the job dimensions."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from gallery_publisher import telemetry
from gallery_publisher.telemetry import EVENTS, JOB_DIMENSIONS, Event
from local.stack import LocalStack, StackOptions, local_stack
from tests.support.app_support import put_raw, run_job

IMAGE = "AlmaLinux-9-Azure-9.6-20251201.0.x86_64.raw"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    options = StackOptions(workdir=tmp_path_factory.mktemp("stack"), time_scale=0.002, region_seconds=600)
    with local_stack(options) as running:
        yield running


def _dimensions(record: logging.LogRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in telemetry.ALL_DIMENSIONS if hasattr(record, name)}


def test_a_full_local_job_emits_every_event_with_its_dimensions(
    stack: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=telemetry.ROOT_LOGGER)
    # notify without a webhook configured: the job succeeds, and the failed notification is an event.
    url = put_raw(stack, IMAGE) + "?X-Amz-Signature=SECRET-SIGNATURE"
    status = run_job(stack, {"image_url": url, "dry_run": False, "notify": True})
    assert status["runtime_status"] == "Completed", status
    instance_id, result = status["instance_id"], status["output"]
    ours = [r for r in caplog.records if r.name.startswith(telemetry.ROOT_LOGGER + ".")]
    assert ours
    for record in ours:  # every line of the job, events or not, names the job
        assert vars(record)["instance_id"] == instance_id, record.getMessage()
        assert {name: getattr(record, name) for name in ("image", "gallery")} in (
            {"image": IMAGE, "gallery": "almalinux_ci"},
            {"image": IMAGE, "gallery": ""},  # before the plan names the gallery
        )

    emitted: dict[str, list[dict[str, Any]]] = {}
    for record in ours:
        if hasattr(record, "event"):
            emitted.setdefault(record.event, []).append(_dimensions(record))
    assert set(emitted) == {event.value for event in Event}
    for event, records in emitted.items():
        for dimensions in records:
            assert set(dimensions) == {"event", *JOB_DIMENSIONS, *EVENTS[Event(event)]}
            assert "SECRET" not in repr(dimensions)

    definitions = ["almalinux-9-gen1", "almalinux-9-gen2"]
    version = result["versions"][0]["version"]
    job_wide = {"instance_id": instance_id, "image": IMAGE, "gallery": "almalinux_ci",
                "definition": ",".join(definitions), "version": version}  # fmt: skip

    [started] = emitted["job_started"]
    assert started == {"event": "job_started", "instance_id": instance_id, "image": IMAGE, "step": "plan",
                       "gallery": "", "definition": "", "version": "", "trigger": "http"}  # fmt: skip

    steps = {d["step"]: d for d in emitted["step_finished"]}
    assert sorted(steps) == sorted(result["durations"]) == ["plan", "publish", "stage"]
    for step, dimensions in steps.items():
        assert dimensions == {**job_wide, "event": "step_finished", "step": step, "ok": True,
                              "seconds": result["durations"][step]}  # fmt: skip

    [staged] = emitted["staged"]
    assert staged["bytes"] == result["staged"]["size"] and staged["seconds"] > 0
    assert staged == {**job_wide, "event": "staged", "step": "stage", "bytes": staged["bytes"],
                      "seconds": staged["seconds"], "reused": False}  # fmt: skip

    finished = {d["definition"]: d for d in emitted["version_finished"]}
    assert sorted(finished) == definitions
    for outcome in result["versions"]:
        assert finished[outcome["definition"]] == {
            **job_wide, "event": "version_finished", "step": "publish", "definition": outcome["definition"],
            "state": "Succeeded", "seconds": outcome["seconds"], "error_code": "", "error_message": "",
        }  # fmt: skip
        # Region progress moves, and its last word per region is the outcome's.
        progress = [d for d in emitted["region_progress"] if d["definition"] == outcome["definition"]]
        last = {d["region"]: (d["state"], d["progress"]) for d in progress}
        assert last == {r["region"]: (r["state"], r["progress"]) for r in outcome["regions"]}
        assert {d["progress"] for d in progress} > {100}
        assert all(d["step"] == "publish" and d["version"] == version for d in progress)

    [notification] = emitted["notification_failed"]
    assert notification["step"] == "report" and "WEBHOOK_URL is not set" in notification["error_message"]

    [job_finished] = emitted["job_finished"]
    assert job_finished == {**job_wide, "event": "job_finished", "step": "done", "outcome": "published",
                            "seconds": job_finished["seconds"], "failed_step": "", "error_code": "",
                            "error_message": ""}  # fmt: skip
    assert job_finished["seconds"] >= sum(result["durations"].values())


def test_a_failed_job_names_its_step_and_error(stack: LocalStack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=telemetry.ROOT_LOGGER)
    url = stack.raw_url("AlmaLinux-9-Azure-9.6-20251202.0.x86_64.raw")  # nothing there: 404
    status = run_job(stack, {"image_url": url, "dry_run": False})
    assert status["runtime_status"] == "Failed"
    [finished] = [r for r in caplog.records if getattr(r, "event", "") == "job_finished"]
    assert vars(finished)["instance_id"] == status["instance_id"]
    assert (vars(finished)["outcome"], vars(finished)["step"]) == ("failed", "failed")
    assert vars(finished)["failed_step"] == status["output"]["failed_step"]
    assert vars(finished)["error_code"] == status["output"]["error_code"] != ""
    assert vars(finished)["error_message"] == status["output"]["error_message"] != ""


def test_an_event_takes_exactly_its_own_dimensions(caplog: pytest.LogCaptureFixture) -> None:
    log = telemetry.job_logger("gallery_publisher.tests")
    job = telemetry.job_dimensions("id", "x.raw", "stage")
    with pytest.raises(ValueError, match="takes"):
        telemetry.emit(log, Event.STAGED, "staged", job, bytes=1, seconds=1.0)
    with pytest.raises(ValueError, match="missing the job dimensions"):
        telemetry.emit(log, Event.STAGED, "staged", {"instance_id": "id"}, bytes=1, seconds=1.0, reused=False)
    with pytest.raises(ValueError, match="not under"):
        telemetry.job_logger("urllib3")


def test_string_dimensions_and_messages_lose_url_query_strings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=telemetry.ROOT_LOGGER)
    log = telemetry.job_logger("gallery_publisher.tests")
    with telemetry.job_context(telemetry.job_dimensions("id", "x.raw", "report")):
        telemetry.emit(log, Event.NOTIFICATION_FAILED, "to https://h/hooks/a?sig=SECRET1",
                       error_message="https://h/b?sig=SECRET2 refused")  # fmt: skip
        log.info("plain line")
    event, plain = caplog.records
    assert (
        event.getMessage() == "to https://h/hooks/a" and vars(event)["error_message"] == "https://h/b refused"
    )
    assert (
        vars(event)["instance_id"],
        vars(event)["step"],
        vars(plain)["instance_id"],
        vars(plain)["step"],
    ) == ("id", "report", "id", "report")
    assert not hasattr(logging.makeLogRecord({}), "instance_id")  # outside a job context: no dimensions
