"""The local host checks keys as the Functions host does: function keys, and system keys for webhooks."""

# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from typing import Any

import azure.durable_functions as df
import azure.functions as func
import pytest
import requests

from local.durable_runner import DurableRunner

KEY = "local-function-key-for-tests"


def _keyed_app(events: list[dict[str, Any]]) -> df.DFApp:
    app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

    @app.route(route="hello", methods=["GET"])
    def hello(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(f"hello {req.params.get('name', 'you')}")

    @app.route(route="open", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def open_route(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("open")

    @app.event_grid_trigger(arg_name="event")
    def on_event(event: func.EventGridEvent) -> None:
        events.append({"type": event.event_type, "data": event.get_json()})

    @app.orchestration_trigger(context_name="context")
    def noop(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
        return "done"
        yield

    return app


@pytest.fixture
def events() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def runner(events: list[dict[str, Any]]) -> Iterator[DurableRunner]:
    with DurableRunner(_keyed_app(events), function_key=KEY) as running:
        yield running


def _get(runner: DurableRunner, path: str, **headers: str) -> requests.Response:
    return requests.get(f"{runner.origin}{path}", headers=headers, timeout=10)


def test_a_function_level_route_needs_the_function_key(runner: DurableRunner) -> None:
    assert _get(runner, "/api/hello").status_code == 401
    assert _get(runner, "/api/hello", **{"x-functions-key": "wrong"}).status_code == 401
    assert _get(runner, "/api/hello?code=wrong").status_code == 401
    assert _get(runner, f"/api/hello?code={runner.keys.durabletask}").status_code == 401


def test_the_key_works_in_the_header_and_in_the_code_parameter(runner: DurableRunner) -> None:
    by_header = _get(runner, "/api/hello?name=ada", **{"x-functions-key": KEY})
    by_code = _get(runner, f"/api/hello?name=bob&code={KEY}")
    assert (by_header.status_code, by_header.text) == (200, "hello ada")
    assert (by_code.status_code, by_code.text) == (200, "hello bob")


def test_an_anonymous_route_stays_open(runner: DurableRunner) -> None:
    answer = _get(runner, "/api/open")
    assert (answer.status_code, answer.text) == (200, "open")


def test_the_durable_api_needs_its_system_key_and_refuses_the_function_key(runner: DurableRunner) -> None:
    instance_id = runner.start_new("noop")
    runner.wait_for(instance_id)
    path = f"/runtime/webhooks/durabletask/instances/{instance_id}"
    assert _get(runner, path).status_code == 401
    assert _get(runner, f"{path}?code={KEY}").status_code == 401
    assert _get(runner, path, **{"x-functions-key": KEY}).status_code == 401
    answer = _get(runner, f"{path}?code={runner.keys.durabletask}")
    assert answer.status_code == 200
    assert answer.json()["runtimeStatus"] == "Completed"
    assert _get(runner, path, **{"x-functions-key": runner.keys.durabletask}).status_code == 200


def test_event_grid_delivers_through_the_system_webhook_with_its_key(
    runner: DurableRunner, events: list[dict[str, Any]]
) -> None:
    event = {
        "id": "1", "topic": "/t", "subject": "/s", "eventType": "Microsoft.Storage.BlobCreated",
        "eventTime": "2025-06-10T10:00:00Z", "data": {"url": "https://x/y.vhd"}, "dataVersion": "",
    }  # fmt: skip
    webhook = f"{runner.origin}/runtime/webhooks/eventgrid?functionName=on_event"
    for code in ("", f"&code={KEY}"):
        refused = requests.post(webhook + code, data=json.dumps([event]), timeout=10)
        assert refused.status_code == 401
    assert events == []
    accepted = runner.deliver_event_grid("on_event", [event])
    assert accepted.status == 202
    assert events == [{"type": "Microsoft.Storage.BlobCreated", "data": {"url": "https://x/y.vhd"}}]


def test_the_function_key_comes_from_the_environment_else_it_is_random(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GALLERY_PUBLISHER_FUNCTION_KEY", "from-the-environment")
    with DurableRunner(_keyed_app([])) as runner:
        assert runner.keys.function_key == "from-the-environment"
    monkeypatch.delenv("GALLERY_PUBLISHER_FUNCTION_KEY")
    with DurableRunner(_keyed_app([])) as first, DurableRunner(_keyed_app([])) as second:
        assert first.keys.function_key != second.keys.function_key
        assert len(first.keys.function_key) >= 32
