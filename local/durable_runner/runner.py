"""`DurableRunner`: the app's functions, the engine, the durable HTTP API and the loopback server."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Collection, Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func
from azure.functions import FunctionRegister

from .app_functions import RegisteredFunction, discover
from .client_api import DurableHttpApi, HttpReply
from .clock import Clock, ScaledClock, VirtualClock
from .engine import Engine
from .functions_host import (
    EventLoopThread,
    NoSuchRoute,
    find_http_function,
    http_response_of,
    http_trigger_data,
)
from .host_config import DurableHostConfig, read_host_config
from .host_keys import EVENT_GRID_WEBHOOK, HostKeys
from .instances import InstanceStatus, RuntimeStatus
from .server import LoopbackServer
from .worker import FunctionFailed, LanguageWorker, TypedData

log = logging.getLogger(__name__)


class DurableRunner:
    """Runs a `df.DFApp` in-process with the real azure-functions-durable replay engine.

    Use it as a context manager: it starts a loopback HTTP server (durable client API, check-status
    webhooks and the app's `/api/` routes) and, with a `ScaledClock`, a background thread that runs
    orchestrations as they are started. With the default `VirtualClock` nothing runs until
    `run_until_idle()`, which is deterministic for a given `seed`.

    Every function is indexed, checked and called by the Python worker's own code (worker.py); the app
    fails to load with the worker's `FunctionLoadError` when the worker would refuse a function. HTTP
    functions with `authLevel: function` need `keys.function_key` (see host_keys.py).
    """

    def __init__(
        self,
        app: FunctionRegister,
        *,
        clock: Clock | None = None,
        seed: int = 0,
        task_hub: str = "LocalTaskHub",
        activity_workers: int = 4,
        host_json: Path | None = None,
        redeliver_activities: Collection[str] = (),
        port: int = 0,
        system_key: str | None = None,
        function_key: str | None = None,
    ) -> None:
        """`host_json`: the app's host.json, whose hub name and maxConcurrentActivityFunctions then
        replace `task_hub` and `activity_workers`. `redeliver_activities`: names of activities whose
        every completed run is delivered again once, as after a host recycle (at-least-once)."""
        config = DurableHostConfig(task_hub, activity_workers)
        if host_json is not None:
            config = read_host_config(host_json, config)
        self.host_config = config
        self._worker = LanguageWorker(app, self._run_on_loop)
        self._functions = discover(self._worker)
        self.keys = HostKeys.create(function_key=function_key, durabletask_key=system_key)
        self._clock: Clock = clock if clock is not None else VirtualClock()
        self._engine = Engine(
            self._functions,
            self._clock,
            seed,
            config.max_concurrent_activities,
            frozenset(redeliver_activities),
        )
        self._server = LoopbackServer(self._answer, port)
        self._api = DurableHttpApi(self._engine, config.hub_name, self._server.origin, self.keys)
        self._loop: EventLoopThread | None = None
        self._stop = threading.Event()
        self._background: threading.Thread | None = None

    # ----- lifecycle

    def __enter__(self) -> DurableRunner:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        self._loop = EventLoopThread()
        self._server.start()
        if isinstance(self._clock, ScaledClock):
            self._background = threading.Thread(
                target=self._engine.run_realtime, args=(self._stop,), name="durable-runner", daemon=True
            )
            self._background.start()

    def stop(self) -> None:
        self._stop.set()
        self._engine.wake()
        if self._background is not None:
            self._background.join()
        self._server.stop()
        # Activities still running call the app through the worker, on the loop: let them end first.
        self._engine.close()
        if self._loop is not None:
            self._loop.close()

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:<port>` of the loopback server."""
        return self._server.origin

    # ----- orchestrations

    def start_new(self, orchestrator: str, input: Any = None, instance_id: str | None = None) -> str:
        return self._engine.start_new(orchestrator, None if input is None else json.dumps(input), instance_id)

    def run_until_idle(self) -> None:
        """Virtual clock only: run everything until no work is left; raises NonDeterminismError if seen."""
        self._engine.run_until_idle()

    def wait_for(self, instance_id: str, timeout: float = 60.0) -> InstanceStatus:
        """Wait until the instance is Completed, Failed or Terminated (virtual clock: runs until idle)."""
        return self._engine.wait_for(instance_id, timeout)

    def status(self, instance_id: str) -> InstanceStatus | None:
        return self._engine.status(instance_id)

    def statuses(self) -> list[InstanceStatus]:
        """Every instance the runner knows, sub-orchestrations included."""
        return self._engine.statuses()

    def history(self, instance_id: str) -> list[dict[str, Any]]:
        return self._engine.history(instance_id)

    def raise_event(self, instance_id: str, name: str, data: Any = None) -> RuntimeStatus | None:
        return self._engine.raise_event(instance_id, name, json.dumps(data))

    def terminate(self, instance_id: str, reason: str) -> RuntimeStatus | None:
        return self._engine.terminate(instance_id, reason)

    # ----- the durable client and the app's other functions

    def client_binding(self) -> str:
        """The JSON the host passes to a `durable_client_input` parameter."""
        return self._api.client_binding()

    def invoke_http(self, request: func.HttpRequest) -> func.HttpResponse:
        """Handle a request (URL path `/api/<route>`) as the host does: route it, check the function's auth
        level (401 without a valid key), and call the function through the worker."""
        function, route_params = find_http_function(
            self._functions.http_functions(), request.method, request.url
        )
        query = dict(parse_qsl(urlsplit(request.url).query))
        if not self.keys.allows(function.auth_level, dict(request.headers), query):
            return func.HttpResponse(status_code=401)
        data = http_trigger_data(
            request.method, request.url, dict(request.headers), request.get_body(), route_params
        )
        return http_response_of(self._invoke(function, {function.trigger_name: data}))

    def call_function(self, name: str, **bindings: Any) -> Any:
        """Call a non-durable function (HTTP, blob, Event Grid trigger) with its trigger data as the host sends
        it: JSON text, a JSON value (sent as its text), bytes, or `TypedData`. The durable client binding, if
        it has one, is filled in. Returns the worker's encoded return value (`TypedData` or None)."""
        function = self._functions.others.get(name)
        if function is None:
            raise KeyError(f"no function named {name!r} with a non-durable trigger")
        return self._invoke(function, {key: _typed(value) for key, value in bindings.items()})

    def deliver_event_grid(self, function_name: str, events: list[dict[str, Any]]) -> HttpReply:
        """What Event Grid posts to the host's system webhook for an `AzureFunction` destination."""
        body = json.dumps(events).encode()
        target = f"{EVENT_GRID_WEBHOOK}?functionName={function_name}&code={self.keys.eventgrid}"
        return self._answer("POST", target, {"aeg-event-type": "Notification"}, body)

    def handle_durable_request(self, method: str, target: str, body: bytes) -> HttpReply:
        """Answer a durable HTTP API request (`/durabletask/...`, `/runtime/webhooks/durabletask/...`)."""
        return self._api.handle(method, target, body)

    # ----- internals

    def _invoke(self, function: RegisteredFunction, inputs: dict[str, TypedData]) -> TypedData | None:
        if function.durable_client_name is not None:
            # The extension hands the client binding over as JSON text (a string).
            inputs = {**inputs, function.durable_client_name: TypedData(string=self.client_binding())}
        return self._worker.invoke(function.name, inputs)

    def _run_on_loop(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        if self._loop is None:
            coroutine.close()
            raise RuntimeError("start the DurableRunner first (use it as a context manager)")
        return self._loop.run(coroutine)

    def _answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> HttpReply:
        path = target.split("?", 1)[0]
        if self._api.handles(path):
            return self._api.handle(method, target, body, headers)
        if path == EVENT_GRID_WEBHOOK:
            return self._event_grid_webhook(method, target, headers, body)
        request = func.HttpRequest(method=method, url=f"{self.origin}{target}", headers=headers, body=body)
        try:
            response = self.invoke_http(request)
        except NoSuchRoute as missing:
            return HttpReply(missing.status, str(missing).encode())
        reply_headers = dict(response.headers)
        if not any(name.lower() == "content-type" for name in reply_headers) and response.mimetype:
            reply_headers["Content-Type"] = response.mimetype
        return HttpReply(response.status_code, response.get_body(), reply_headers)

    def _event_grid_webhook(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> HttpReply:
        """`/runtime/webhooks/eventgrid?functionName=<name>`: the eventgrid_extension system key, then one
        invocation per event of the posted array."""
        query = dict(parse_qsl(urlsplit(target).query))
        if not self.keys.allows_system(self.keys.eventgrid, headers, query):
            return HttpReply(401)
        function = self._functions.others.get(query.get("functionName", ""))
        if method.upper() != "POST" or function is None or function.trigger_type != "eventGridTrigger":
            return HttpReply(404, b"no Event Grid triggered function of that name")
        for event in json.loads(body):
            try:
                self._invoke(function, {function.trigger_name: TypedData(json=json.dumps(event))})
            except FunctionFailed as failed:  # the host answers 500 and Event Grid retries later
                log.error("%s", failed)
                return HttpReply(500)
        return HttpReply(202)


def _typed(value: Any) -> TypedData:
    if isinstance(value, TypedData):
        return value
    if isinstance(value, bytes):
        return TypedData(bytes=value)
    if isinstance(value, str):
        return TypedData(string=value)
    return TypedData(json=json.dumps(value))
