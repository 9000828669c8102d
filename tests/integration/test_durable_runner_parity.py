"""The runner is no kinder than the Durable extension: limits, retry timers, ordering, restarts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.durable_functions.models.history.HistoryEventType import HistoryEventType as E

from local.durable_runner import DurableRunner, InstanceStatus, RuntimeStatus, VirtualClock
from local.durable_runner.host_config import DurableHostConfig, InvalidHostJson
from tests.support.durable_toy_app import build_toy_app

START = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
PROJECT_HOST_JSON = Path(__file__).resolve().parents[2] / "host.json"


@pytest.fixture
def runner() -> Iterator[DurableRunner]:
    with DurableRunner(build_toy_app(), clock=VirtualClock(START)) as running:
        yield running


def run(runner: DurableRunner, name: str, payload: Any = None) -> InstanceStatus:
    instance_id = runner.start_new(name, payload)
    runner.run_until_idle()
    status = runner.status(instance_id)
    assert status is not None
    return status


def of_type(history: list[dict[str, Any]], kind: E) -> list[dict[str, Any]]:
    return [event for event in history if event["EventType"] == kind]


def at(event: dict[str, Any], field: str = "Timestamp") -> datetime:
    return datetime.fromisoformat(event[field])


# ----- custom status: at most 16 KB of UTF-16 JSON


def test_a_custom_status_of_16_kb_is_kept(runner: DurableRunner) -> None:
    # '"' + 8190 x + '"' = 8192 UTF-16 code units = 16,384 bytes: exactly 16 KB.
    status = run(runner, "loud_status", 8190)

    assert status.runtime_status is RuntimeStatus.COMPLETED
    assert status.custom_status == "x" * 8190


def test_a_custom_status_over_16_kb_fails_the_orchestration_with_the_runtimes_message(
    runner: DurableRunner,
) -> None:
    # 8,704 code units = 17 KB in UTF-16 (whole KB, rounded down, as the extension measures).
    status = run(runner, "loud_status", 8702)

    assert status.runtime_status is RuntimeStatus.FAILED
    assert status.output == (
        "The UTF-16 size of the JSON-serialized payload must not exceed 16 KB. "
        "The current payload size is 17 KB."
    )
    assert status.custom_status is None  # refused, so never stored
    history = runner.history(status.instance_id)
    assert not of_type(history, E.TASK_SCHEDULED)  # refused before any action is replayed
    assert history[-1]["OrchestrationStatus"] == "Failed"


# ----- retries: the timer after the last failed attempt fires at once (DurableTask.Core 2.7+)


def test_after_the_last_failed_retry_the_timer_fires_at_once(runner: DurableRunner) -> None:
    status = run(runner, "gives_up")

    assert status.runtime_status is RuntimeStatus.FAILED
    assert "still broken" in str(status.output)
    history = runner.history(status.instance_id)
    assert len(of_type(history, E.TASK_FAILED)) == 3
    fire_times = [at(e, "FireAt") for e in of_type(history, E.TIMER_CREATED)]
    last_failure = at(of_type(history, E.TASK_FAILED)[-1])
    assert fire_times == [START + timedelta(minutes=1), START + timedelta(minutes=2), last_failure]
    assert last_failure == START + timedelta(minutes=2)
    assert status.last_updated_time == START + timedelta(minutes=2)  # not one more interval


# ----- an instance stays Running until every action it yielded has finished


def test_a_failure_is_applied_only_after_every_branch_of_task_all_has_finished(runner: DurableRunner) -> None:
    instance_id = runner.start_new("fails_fast")
    runner.run_until_idle()

    status = runner.status(instance_id)
    assert status is not None and status.runtime_status is RuntimeStatus.FAILED
    assert "early" in str(status.output)
    assert status.last_updated_time == START + timedelta(hours=1)
    kinds = [e["EventType"] for e in runner.history(instance_id)]
    assert kinds.index(E.TIMER_FIRED) < kinds.index(E.EXECUTION_COMPLETED)


def test_the_instance_stays_running_while_the_other_branch_waits(runner: DurableRunner) -> None:
    waiting = run(runner, "fails_while_waiting")

    assert waiting.runtime_status is RuntimeStatus.RUNNING
    assert of_type(runner.history(waiting.instance_id), E.TASK_FAILED)

    runner.raise_event(waiting.instance_id, "go")
    runner.run_until_idle()
    status = runner.status(waiting.instance_id)
    assert status is not None and status.runtime_status is RuntimeStatus.FAILED
    assert "early" in str(status.output)


def test_work_after_a_failed_task_all_waits_for_its_other_branches(runner: DurableRunner) -> None:
    status = run(runner, "carries_on")

    assert status.runtime_status is RuntimeStatus.COMPLETED
    assert status.output == "Hello after"
    history = runner.history(status.instance_id)
    greet = [e for e in of_type(history, E.TASK_SCHEDULED) if e["Name"] == "greet"]
    assert [at(e) for e in greet] == [START + timedelta(hours=1)]


# ----- sub-orchestrations: a finished instance's id is restarted, not refused


def test_a_sub_orchestration_id_of_a_finished_instance_is_restarted(runner: DurableRunner) -> None:
    status = run(runner, "same_child_twice")

    assert status.runtime_status is RuntimeStatus.COMPLETED, status.output
    assert status.output == [True, True]
    created = of_type(runner.history(status.instance_id), E.SUB_ORCHESTRATION_INSTANCE_CREATED)
    assert [e["InstanceId"] for e in created] == ["fixed-child", "fixed-child"]


# ----- host.json: the task hub's name and how many activities run at once


def write_host_json(tmp_path: Path, durable: dict[str, Any]) -> Path:
    path = tmp_path / "host.json"
    path.write_text(json.dumps({"version": "2.0", "extensions": {"durableTask": durable}}))
    return path


def test_the_hub_name_comes_from_host_json(tmp_path: Path) -> None:
    host_json = write_host_json(tmp_path, {"hubName": "ReleaseHub7"})
    with DurableRunner(build_toy_app(), host_json=host_json) as runner:
        binding = json.loads(runner.client_binding())
        assert binding["taskHubName"] == "ReleaseHub7"
        assert "taskHub=ReleaseHub7&" in binding["managementUrls"]["statusQueryGetUri"]


@pytest.mark.parametrize("bad", ["my-hub", "ab", "7Hub", "H" * 46, 42])
def test_a_hub_name_the_extension_refuses_is_refused(tmp_path: Path, bad: object) -> None:
    host_json = write_host_json(tmp_path, {"hubName": bad})
    with pytest.raises(InvalidHostJson, match=r"hubName .* is not a valid task hub name: use 3 to 45"):
        DurableRunner(build_toy_app(), host_json=host_json)


@pytest.mark.parametrize("limit", [1, 2])
def test_no_more_activities_run_at_once_than_host_json_allows(tmp_path: Path, limit: int) -> None:
    host_json = write_host_json(tmp_path, {"hubName": "Hub", "maxConcurrentActivityFunctions": limit})
    with DurableRunner(build_toy_app(), clock=VirtualClock(START), host_json=host_json) as runner:
        status = run(runner, "busiest")

    assert status.runtime_status is RuntimeStatus.COMPLETED
    assert status.output == limit


def test_the_projects_host_json_is_what_the_local_stack_runs_with() -> None:
    with DurableRunner(build_toy_app(), host_json=PROJECT_HOST_JSON) as runner:
        assert runner.host_config == DurableHostConfig(
            hub_name="GalleryPublisher", max_concurrent_activities=2
        )


# ----- activities run at least once


def test_a_redelivered_activity_runs_again_and_the_orchestration_sees_one_result() -> None:
    with DurableRunner(
        build_toy_app(), clock=VirtualClock(START), redeliver_activities=["count_runs"]
    ) as runner:
        status = run(runner, "counts_once", "key-1")

        assert status.runtime_status is RuntimeStatus.COMPLETED
        assert status.output == 2  # the second run's result: the first one's completion was lost
        history = runner.history(status.instance_id)
        assert len(of_type(history, E.TASK_SCHEDULED)) == 1
        assert len(of_type(history, E.TASK_COMPLETED)) == 1
