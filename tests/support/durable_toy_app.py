"""A small Durable Functions app for the runner's tests (the product's app is tested elsewhere)."""

# The azure-functions decorators are untyped; the functions below are typed and that is what matters here.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Generator
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func

Orchestration = Generator[Any, Any, Any]


def build_toy_app() -> df.DFApp:
    """A fresh app each time: `get_functions()` may be called only once per app."""
    app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    bp = df.Blueprint()
    attempts: dict[str, int] = {}
    attempts_lock = threading.Lock()

    @bp.activity_trigger(input_name="name")
    def greet(name: str) -> str:
        return f"Hello {name}"

    @bp.activity_trigger(input_name="number")
    def square(number: int) -> int:
        # Real I/O takes time: completions in threads finish in an order unrelated to the seed.
        time.sleep(random.uniform(0, 0.02))
        return number * number

    @bp.activity_trigger(input_name="message")
    def explode(message: str) -> None:
        raise ValueError(message)

    @bp.activity_trigger(input_name="key")
    def flaky(key: str) -> str:
        with attempts_lock:
            attempts[key] = attempts.get(key, 0) + 1
            attempt = attempts[key]
        if attempt < 3:
            raise ConnectionError(f"attempt {attempt} of {key} failed")
        return f"{key} done on attempt {attempt}"

    running = [0]  # activities of `tracked` running right now

    @bp.activity_trigger(input_name="number")
    def tracked(number: int) -> int:
        """How many `tracked` activities were running while this one did (itself included)."""
        with attempts_lock:
            running[0] += 1
            seen = running[0]
        time.sleep(0.05)
        with attempts_lock:
            seen = max(seen, running[0])
            running[0] -= 1
        return seen

    @bp.activity_trigger(input_name="key")
    def count_runs(key: str) -> int:
        with attempts_lock:
            attempts[key] = attempts.get(key, 0) + 1
            return attempts[key]

    @bp.orchestration_trigger(context_name="context")
    def busiest(context: df.DurableOrchestrationContext) -> Orchestration:
        seen = yield context.task_all([context.call_activity("tracked", n) for n in range(6)])
        return max(seen)

    @bp.orchestration_trigger(context_name="context")
    def counts_once(context: df.DurableOrchestrationContext) -> Orchestration:
        return (yield context.call_activity("count_runs", context.get_input()))

    @bp.orchestration_trigger(context_name="context")
    def sequence(context: df.DurableOrchestrationContext) -> Orchestration:
        results = []
        for name in context.get_input():
            results.append((yield context.call_activity(greet, name)))
        return results

    @bp.orchestration_trigger(context_name="context")
    def fan_out(context: df.DurableOrchestrationContext) -> Orchestration:
        numbers = context.get_input()
        squares = yield context.task_all([context.call_activity("square", n) for n in numbers])
        return {"squares": squares, "total": sum(squares)}

    @bp.orchestration_trigger(context_name="context")
    def guarded_child(context: df.DurableOrchestrationContext) -> Orchestration:
        job = context.get_input()
        try:
            if job["fail"]:
                yield context.call_activity("explode", f"job {job['name']} broke")
            greeting = yield context.call_activity("greet", job["name"])
            return {"name": job["name"], "ok": True, "result": greeting}
        except Exception as error:
            return {"name": job["name"], "ok": False, "error": str(error)}

    @bp.orchestration_trigger(context_name="context")
    def parent(context: df.DurableOrchestrationContext) -> Orchestration:
        jobs = context.get_input()
        return (yield context.task_all([context.call_sub_orchestrator("guarded_child", job) for job in jobs]))

    @bp.orchestration_trigger(context_name="context")
    def retrying(context: df.DurableOrchestrationContext) -> Orchestration:
        options = df.RetryOptions(first_retry_interval_in_milliseconds=90_000, max_number_of_attempts=4)
        return (yield context.call_activity_with_retry("flaky", options, context.get_input()))

    @bp.orchestration_trigger(context_name="context")
    def flaky_child(context: df.DurableOrchestrationContext) -> Orchestration:
        return (yield context.call_activity("flaky", context.get_input()))

    @bp.orchestration_trigger(context_name="context")
    def retrying_parent(context: df.DurableOrchestrationContext) -> Orchestration:
        options = df.RetryOptions(first_retry_interval_in_milliseconds=60_000, max_number_of_attempts=3)
        return (yield context.call_sub_orchestrator_with_retry("flaky_child", options, context.get_input()))

    @bp.orchestration_trigger(context_name="context")
    def sleeper(context: df.DurableOrchestrationContext) -> Orchestration:
        started = context.current_utc_datetime
        context.set_custom_status({"step": "sleeping"})
        yield context.create_timer(started + timedelta(seconds=context.get_input()))
        context.set_custom_status({"step": "awake"})
        return (context.current_utc_datetime - started).total_seconds()

    @bp.orchestration_trigger(context_name="context")
    def steps(context: df.DurableOrchestrationContext) -> Orchestration:
        context.set_custom_status("planning")
        context.set_custom_status("staging")  # two in one episode: both must be kept
        yield context.call_activity("greet", "stage")
        context.set_custom_status({"step": "publishing", "done": 0})
        yield context.create_timer(context.current_utc_datetime + timedelta(minutes=5))
        context.set_custom_status({"step": "publishing", "done": 1})
        return "finished"

    @bp.orchestration_trigger(context_name="context")
    def reads_wall_clock(context: df.DurableOrchestrationContext) -> Orchestration:
        yield context.call_activity("greet", datetime.now(UTC).isoformat())
        yield context.call_activity("greet", "again")
        return "unreachable"

    @bp.orchestration_trigger(context_name="context")
    def doomed(context: df.DurableOrchestrationContext) -> Orchestration:
        yield context.call_activity("greet", "first")
        yield context.call_activity("explode", "disk full on /staging")
        return "unreachable"

    @bp.orchestration_trigger(context_name="context")
    def waits_for_approval(context: df.DurableOrchestrationContext) -> Orchestration:
        approval = yield context.wait_for_external_event("approval")
        return {"approved_by": approval["by"]}

    @bp.orchestration_trigger(context_name="context")
    def loud_status(context: df.DurableOrchestrationContext) -> Orchestration:
        context.set_custom_status("x" * context.get_input())
        return (yield context.call_activity("greet", "loud"))

    @bp.orchestration_trigger(context_name="context")
    def gives_up(context: df.DurableOrchestrationContext) -> Orchestration:
        options = df.RetryOptions(first_retry_interval_in_milliseconds=60_000, max_number_of_attempts=3)
        return (yield context.call_activity_with_retry("explode", options, "still broken"))

    @bp.orchestration_trigger(context_name="context")
    def fails_fast(context: df.DurableOrchestrationContext) -> Orchestration:
        hour_later = context.current_utc_datetime + timedelta(hours=1)
        yield context.task_all([context.call_activity("explode", "early"), context.create_timer(hour_later)])
        return "unreachable"

    @bp.orchestration_trigger(context_name="context")
    def fails_while_waiting(context: df.DurableOrchestrationContext) -> Orchestration:
        yield context.task_all(
            [context.call_activity("explode", "early"), context.wait_for_external_event("go")]
        )
        return "unreachable"

    @bp.orchestration_trigger(context_name="context")
    def carries_on(context: df.DurableOrchestrationContext) -> Orchestration:
        hour_later = context.current_utc_datetime + timedelta(hours=1)
        try:
            yield context.task_all(
                [context.call_activity("explode", "early"), context.create_timer(hour_later)]
            )
        except Exception:
            return (yield context.call_activity("greet", "after"))
        return "unreachable"

    @bp.orchestration_trigger(context_name="context")
    def same_child_twice(context: df.DurableOrchestrationContext) -> Orchestration:
        job = {"name": "again", "fail": False}
        first = yield context.call_sub_orchestrator("guarded_child", job, "fixed-child")
        second = yield context.call_sub_orchestrator("guarded_child", job, "fixed-child")
        return [first["ok"], second["ok"]]

    app.register_functions(bp)

    @app.route(route="orchestrators/{name}", methods=["POST"])
    @app.durable_client_input(client_name="client")
    async def http_start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        body = req.get_body()
        instance_id = await client.start_new(
            req.route_params["name"], req.params.get("instance_id"), json.loads(body) if body else None
        )
        response: func.HttpResponse = client.create_check_status_response(req, instance_id)
        return response

    @app.route(route="status/{instance_id}", methods=["GET"])
    @app.durable_client_input(client_name="client")
    async def http_status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        status = await client.get_status(req.route_params["instance_id"])
        if not status:
            return func.HttpResponse("no such job", status_code=404)
        body = {
            "status": status.runtime_status.value,
            "output": status.output,
            "custom": status.custom_status,
        }
        return func.HttpResponse(json.dumps(body), mimetype="application/json")

    return app
