"""The real DurableOrchestrationClient and an HTTP starter run unchanged against the local runner."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta

import azure.functions as func
import pytest
import requests
from azure.durable_functions.models.history.HistoryEventType import HistoryEventType as E

from local.durable_runner import DurableRunner, NoSuchRoute, RuntimeStatus, ScaledClock
from tests.support.durable_toy_app import build_toy_app


@pytest.fixture
def runner() -> Iterator[DurableRunner]:
    with DurableRunner(build_toy_app()) as running:
        yield running


def post(runner: DurableRunner, route: str, payload: object = None) -> func.HttpResponse:
    body = b"" if payload is None else json.dumps(payload).encode()
    request = func.HttpRequest(method="POST", url=f"{runner.origin}/api/{route}", headers={}, body=body)
    return runner.invoke_http(request)


def get(runner: DurableRunner, route: str) -> func.HttpResponse:
    return runner.invoke_http(func.HttpRequest(method="GET", url=f"{runner.origin}/api/{route}", body=b""))


def test_http_starter_starts_an_orchestration_and_its_status_url_reports_progress(
    runner: DurableRunner,
) -> None:
    response = post(runner, "orchestrators/sequence", ["ada", "bob"])

    assert response.status_code == 202
    links = json.loads(response.get_body())
    instance_id = links["id"]
    assert response.headers["Location"] == links["statusQueryGetUri"]
    status_url = links["statusQueryGetUri"]
    assert status_url.startswith(f"{runner.origin}/runtime/webhooks/durabletask/instances/{instance_id}?")

    pending = requests.get(status_url, timeout=10)
    assert pending.status_code == 202
    assert pending.json()["runtimeStatus"] == "Pending"
    assert pending.json()["input"] == ["ada", "bob"]

    runner.run_until_idle()
    done = requests.get(status_url, timeout=10)
    assert done.status_code == 200
    assert done.json()["runtimeStatus"] == "Completed"
    assert done.json()["output"] == ["Hello ada", "Hello bob"]
    assert done.json()["name"] == "sequence"


def test_status_url_needs_the_system_key(runner: DurableRunner) -> None:
    links = json.loads(post(runner, "orchestrators/sequence", ["ada"]).get_body())

    keyless = links["statusQueryGetUri"].split("&code=")[0]
    assert requests.get(keyless, timeout=10).status_code == 401


def test_a_failed_orchestration_answers_200_with_status_failed(runner: DurableRunner) -> None:
    links = json.loads(post(runner, "orchestrators/doomed").get_body())
    runner.run_until_idle()

    answer = requests.get(links["statusQueryGetUri"], timeout=10)
    assert answer.status_code == 200
    assert answer.json()["runtimeStatus"] == "Failed"
    assert "disk full on /staging" in answer.json()["output"]


def test_client_get_status_through_a_starter_and_unknown_ids_are_falsy(runner: DurableRunner) -> None:
    post(runner, "orchestrators/steps?instance_id=release-9.6")
    runner.run_until_idle()

    known = get(runner, "status/release-9.6")
    assert known.status_code == 200
    assert json.loads(known.get_body()) == {
        "status": "Completed",
        "output": "finished",
        "custom": {"step": "publishing", "done": 1},
    }
    assert get(runner, "status/never-started").status_code == 404


def test_start_new_with_a_given_id_refuses_while_that_instance_runs(runner: DurableRunner) -> None:
    started = post(runner, "orchestrators/waits_for_approval?instance_id=job-1")
    assert json.loads(started.get_body())["id"] == "job-1"
    runner.run_until_idle()

    with pytest.raises(Exception, match="already exists"):
        post(runner, "orchestrators/waits_for_approval?instance_id=job-1")


def test_client_raise_event_and_terminate_webhooks(runner: DurableRunner) -> None:
    approval = json.loads(post(runner, "orchestrators/waits_for_approval").get_body())
    cancel = json.loads(post(runner, "orchestrators/waits_for_approval").get_body())
    runner.run_until_idle()

    send = approval["sendEventPostUri"].replace("{eventName}", "approval")
    assert requests.post(send, json={"by": "ops"}, timeout=10).status_code == 202
    stop = cancel["terminatePostUri"].replace("{text}", "not needed")
    assert requests.post(stop, timeout=10).status_code == 202
    runner.run_until_idle()

    approved = runner.status(approval["id"])
    terminated = runner.status(cancel["id"])
    assert approved is not None and approved.output == {"approved_by": "ops"}
    assert terminated is not None and terminated.runtime_status is RuntimeStatus.TERMINATED
    assert requests.post(stop, timeout=10).status_code == 410


def test_unknown_orchestrator_and_unknown_route_are_clear_errors(runner: DurableRunner) -> None:
    with pytest.raises(Exception, match="no orchestrator function named 'nope'"):
        post(runner, "orchestrators/nope")
    with pytest.raises(NoSuchRoute, match="no HTTP function matches"):
        get(runner, "missing/route")
    with pytest.raises(NoSuchRoute, match="accepts GET"):
        get(runner, "orchestrators/sequence")


def test_the_runner_serves_the_app_routes_over_http_too(runner: DurableRunner) -> None:
    answer = requests.post(f"{runner.origin}/api/orchestrators/sequence", json=["web"], timeout=10)

    assert answer.status_code == 202
    runner.run_until_idle()
    status = requests.get(answer.headers["Location"], timeout=10).json()
    assert status["output"] == ["Hello web"]


def test_scaled_real_time_timer_takes_about_the_scaled_duration() -> None:
    # 40 orchestration seconds at 1/100 speed: about 0.4 s of real time.
    with DurableRunner(build_toy_app(), clock=ScaledClock(scale=0.01)) as runner:
        began = time.monotonic()
        instance_id = runner.start_new("sleeper", 40)
        status = runner.wait_for(instance_id, timeout=10)
        elapsed = time.monotonic() - began
        history = runner.history(instance_id)

    assert status.runtime_status is RuntimeStatus.COMPLETED
    assert 0.4 <= elapsed < 1.5, elapsed
    assert status.output >= 40
    fired = [event for event in history if event["EventType"] == E.TIMER_FIRED]
    assert len(fired) == 1
    assert status.last_updated_time - status.created_time >= timedelta(seconds=40)


def test_real_time_mode_runs_started_orchestrations_in_the_background() -> None:
    with DurableRunner(build_toy_app(), clock=ScaledClock(scale=0.01), seed=3) as runner:
        response = requests.post(
            f"{runner.origin}/api/orchestrators/parent",
            json=[
                {"name": "a", "fail": False},
                {"name": "b", "fail": True},
            ],
            timeout=10,
        )
        instance_id = response.json()["id"]
        status = runner.wait_for(instance_id, timeout=10)

    assert status.runtime_status is RuntimeStatus.COMPLETED
    assert [record["ok"] for record in status.output] == [True, False]
