"""The in-process durable runner drives the real azure-functions-durable replay engine correctly."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.durable_functions.models.history.HistoryEventType import HistoryEventType as E

from local.durable_runner import DurableRunner, NonDeterminismError, RuntimeStatus, VirtualClock
from local.durable_runner.sdk_tasks import RETRY_ATTEMPT, RETRY_TIMER
from tests.support.durable_toy_app import build_toy_app

START = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def runner() -> Iterator[DurableRunner]:
    with DurableRunner(build_toy_app(), clock=VirtualClock(START)) as running:
        yield running


def of_type(history: list[dict[str, Any]], kind: E) -> list[dict[str, Any]]:
    return [event for event in history if event["EventType"] == kind]


def run(runner: DurableRunner, name: str, payload: Any = None) -> str:
    instance_id = runner.start_new(name, payload)
    runner.run_until_idle()
    return instance_id


def test_sdk_is_the_pinned_version_whose_internals_the_runner_reads() -> None:
    assert importlib.metadata.version("azure-functions-durable") == "1.7.0"


def test_activity_sequence_runs_in_order_with_the_extension_history_shape(runner: DurableRunner) -> None:
    instance_id = run(runner, "sequence", ["ada", "bob", "cy"])

    status = runner.status(instance_id)
    assert status is not None
    assert status.runtime_status is RuntimeStatus.COMPLETED
    assert status.output == ["Hello ada", "Hello bob", "Hello cy"]
    history = runner.history(instance_id)
    assert [e["EventType"] for e in history[:2]] == [E.ORCHESTRATOR_STARTED, E.EXECUTION_STARTED]
    assert "Version" in history[1]
    assert [e["Input"] for e in of_type(history, E.TASK_SCHEDULED)] == ['"ada"', '"bob"', '"cy"']
    assert [e["TaskScheduledId"] for e in of_type(history, E.TASK_COMPLETED)] == [0, 1, 2]
    assert history[-1]["EventType"] == E.EXECUTION_COMPLETED
    assert all(e["IsPlayed"] for e in history)


def fan_out_with_seed(seed: int) -> tuple[Any, list[int]]:
    with DurableRunner(build_toy_app(), seed=seed) as runner:
        instance_id = run(runner, "fan_out", list(range(1, 9)))
        status = runner.status(instance_id)
        assert status is not None and status.runtime_status is RuntimeStatus.COMPLETED, status
        completions = [e["TaskScheduledId"] for e in of_type(runner.history(instance_id), E.TASK_COMPLETED)]
        return status.output, completions


def test_fan_out_result_is_the_same_under_every_completion_order() -> None:
    outcomes = [fan_out_with_seed(seed) for seed in range(5)]

    expected = {"squares": [n * n for n in range(1, 9)], "total": sum(n * n for n in range(1, 9))}
    assert all(output == expected for output, _ in outcomes)
    orders = {tuple(order) for _, order in outcomes}
    assert all(sorted(order) == list(range(8)) for order in orders)
    assert len(orders) >= 3, f"seeds should shuffle completion order, got {orders}"


def test_the_same_seed_gives_the_same_history_despite_thread_timing() -> None:
    assert fan_out_with_seed(7) == fan_out_with_seed(7)


def test_sub_orchestrations_that_catch_failures_return_result_records(runner: DurableRunner) -> None:
    jobs = [{"name": "gen1", "fail": False}, {"name": "gen2", "fail": True}, {"name": "arm", "fail": False}]
    instance_id = run(runner, "parent", jobs)

    status = runner.status(instance_id)
    assert status is not None and status.runtime_status is RuntimeStatus.COMPLETED
    records = status.output
    assert [r["name"] for r in records] == ["gen1", "gen2", "arm"]
    assert [r["ok"] for r in records] == [True, False, True]
    assert records[0]["result"] == "Hello gen1"
    assert "job gen2 broke" in records[1]["error"]
    history = runner.history(instance_id)
    children = [e["InstanceId"] for e in of_type(history, E.SUB_ORCHESTRATION_INSTANCE_CREATED)]
    assert len(children) == 3
    for child in children:
        child_status = runner.status(child)
        assert child_status is not None
        assert child_status.parent_instance_id == instance_id
        assert child_status.runtime_status is RuntimeStatus.COMPLETED
    assert len(of_type(history, E.SUB_ORCHESTRATION_INSTANCE_COMPLETED)) == 3


def test_activity_retry_succeeds_on_the_third_attempt_with_timers_between(runner: DurableRunner) -> None:
    instance_id = run(runner, "retrying", "upload")

    status = runner.status(instance_id)
    assert status is not None and status.runtime_status is RuntimeStatus.COMPLETED
    assert status.output == "upload done on attempt 3"
    history = runner.history(instance_id)
    kinds = [
        e["EventType"]
        for e in history
        if e["EventType"]
        in (E.TASK_SCHEDULED, E.TASK_FAILED, E.TASK_COMPLETED, E.TIMER_CREATED, E.TIMER_FIRED)
    ]
    assert kinds == [
        E.TASK_SCHEDULED, E.TASK_FAILED, E.TIMER_CREATED, E.TIMER_FIRED,
        E.TASK_SCHEDULED, E.TASK_FAILED, E.TIMER_CREATED, E.TIMER_FIRED,
        E.TASK_SCHEDULED, E.TASK_COMPLETED,
    ]  # fmt: skip
    fired = [datetime.fromisoformat(e["FireAt"]) for e in of_type(history, E.TIMER_FIRED)]
    assert fired == [START + timedelta(seconds=90), START + timedelta(seconds=180)]
    failures = of_type(history, E.TASK_FAILED)
    assert "ConnectionError: attempt 1 of upload failed" in failures[0]["Reason"]
    # Ids of retry timers and attempts are allocated by the SDK while it replays failures.
    assert [e["EventId"] for e in of_type(history, E.TASK_SCHEDULED)] == [0, 2, 4]
    assert [e["EventId"] for e in of_type(history, E.TIMER_CREATED)] == [1, 3]


def test_sub_orchestration_retry_starts_a_new_child_after_each_failure(runner: DurableRunner) -> None:
    instance_id = run(runner, "retrying_parent", "replicate")

    status = runner.status(instance_id)
    assert status is not None and status.runtime_status is RuntimeStatus.COMPLETED
    assert status.output == "replicate done on attempt 3"
    history = runner.history(instance_id)
    children = [e["InstanceId"] for e in of_type(history, E.SUB_ORCHESTRATION_INSTANCE_CREATED)]
    assert len(set(children)) == 3
    child_states = [runner.status(child) for child in children]
    assert [s.runtime_status if s else None for s in child_states] == [
        RuntimeStatus.FAILED,
        RuntimeStatus.FAILED,
        RuntimeStatus.COMPLETED,
    ]
    assert len(of_type(history, E.SUB_ORCHESTRATION_INSTANCE_FAILED)) == 2
    fired = [datetime.fromisoformat(e["FireAt"]) for e in of_type(history, E.TIMER_FIRED)]
    assert fired == [START + timedelta(minutes=1), START + timedelta(minutes=2)]


def test_sdk_retry_internals_are_what_the_runner_reads() -> None:
    """Fails loudly when a new SDK changes how it tracks retries (see sdk_tasks.py)."""
    from azure.durable_functions.models.DurableOrchestrationContext import DurableOrchestrationContext
    from azure.durable_functions.models.Task import RetryAbleTask

    source = importlib.util.find_spec("azure.durable_functions.models.Task")
    assert source is not None and source.origin is not None
    with open(source.origin) as task_module:
        text = task_module.read()
    assert f'NoOpAction("{RETRY_TIMER}")' in text
    assert f'NoOpAction("{RETRY_ATTEMPT}")' in text
    for attribute in ("retry_options", "actions"):
        assert f"self.{attribute} =" in text, attribute
    assert hasattr(RetryAbleTask, "try_set_value")
    assert "open_tasks" in DurableOrchestrationContext.__init__.__code__.co_names


def test_hours_of_durable_timers_finish_instantly_on_the_virtual_clock(runner: DurableRunner) -> None:
    import time

    began = time.monotonic()
    instance_id = run(runner, "sleeper", 5 * 3600)
    elapsed = time.monotonic() - began

    status = runner.status(instance_id)
    assert status is not None and status.runtime_status is RuntimeStatus.COMPLETED
    assert status.output == 5 * 3600
    assert elapsed < 2.0
    fired = of_type(runner.history(instance_id), E.TIMER_FIRED)
    assert [e["FireAt"] for e in fired] == [(START + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")]
    assert status.last_updated_time == START + timedelta(hours=5)
    assert status.created_time == START


def test_every_custom_status_value_is_kept_in_order(runner: DurableRunner) -> None:
    instance_id = run(runner, "steps")

    status = runner.status(instance_id)
    assert status is not None and status.runtime_status is RuntimeStatus.COMPLETED
    assert status.custom_status_history == [
        "planning",
        "staging",
        {"step": "publishing", "done": 0},
        {"step": "publishing", "done": 1},
    ]
    assert status.custom_status == {"step": "publishing", "done": 1}


def test_an_orchestrator_reading_the_wall_clock_is_caught_as_non_deterministic(runner: DurableRunner) -> None:
    instance_id = runner.start_new("reads_wall_clock")

    with pytest.raises(NonDeterminismError, match=r"'reads_wall_clock'.*action #0.*greet"):
        runner.run_until_idle()

    status = runner.status(instance_id)
    assert status is not None
    assert status.runtime_status is RuntimeStatus.FAILED
    assert status.error is not None and "not deterministic" in status.error


def test_an_activity_exception_fails_the_orchestration_with_its_message(runner: DurableRunner) -> None:
    instance_id = run(runner, "doomed")

    status = runner.status(instance_id)
    assert status is not None
    assert status.runtime_status is RuntimeStatus.FAILED
    assert status.error is not None
    assert status.error.startswith("Activity function 'explode' failed: ValueError: disk full on /staging")
    assert str(status.output).startswith("Orchestrator function 'doomed' failed: Activity function 'explode'")
    assert runner.history(instance_id)[-1]["OrchestrationStatus"] == "Failed"


def test_a_raised_event_resumes_a_waiting_orchestration(runner: DurableRunner) -> None:
    instance_id = run(runner, "waits_for_approval")
    waiting = runner.status(instance_id)
    assert waiting is not None and waiting.runtime_status is RuntimeStatus.RUNNING

    runner.raise_event(instance_id, "approval", {"by": "release-manager"})
    runner.run_until_idle()

    status = runner.status(instance_id)
    assert status is not None and status.runtime_status is RuntimeStatus.COMPLETED
    assert status.output == {"approved_by": "release-manager"}


def test_terminate_stops_a_running_instance(runner: DurableRunner) -> None:
    instance_id = run(runner, "waits_for_approval")

    assert runner.terminate(instance_id, "cancelled by operator") is RuntimeStatus.RUNNING
    runner.raise_event(instance_id, "approval", {"by": "too late"})
    runner.run_until_idle()

    status = runner.status(instance_id)
    assert status is not None
    assert status.runtime_status is RuntimeStatus.TERMINATED
    assert status.output == "cancelled by operator"


def test_a_pending_instance_waits_for_run_until_idle_on_the_virtual_clock(runner: DurableRunner) -> None:
    instance_id = runner.start_new("sequence", ["x"], instance_id="job-1")

    status = runner.status("job-1")
    assert instance_id == "job-1"
    assert status is not None and status.runtime_status is RuntimeStatus.PENDING
    assert runner.status("no-such-job") is None
