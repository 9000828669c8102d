"""Invoke the app's non-durable functions (HTTP starters, blob / Event Grid starters) in-process.

Coroutine functions run on one long-lived event loop: the SDK keeps a module-level aiohttp session
bound to the loop that created it, so a fresh loop per call would break the second call.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func

from .app_functions import RegisteredFunction

ROUTE_PREFIX = "/api/"
T = TypeVar("T")


class NoSuchRoute(LookupError):
    """No HTTP function matches the path (404), or none accepts the method (405)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class EventLoopThread:
    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="functions-event-loop", daemon=True
        )
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def close(self) -> None:
        from azure.durable_functions.models.utils import http_utils

        # Close the SDK's session inside the loop it belongs to, so a later runner starts a fresh one.
        self.run(http_utils._close_session())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


def _route_pattern(template: str) -> re.Pattern[str]:
    """An ASP.NET-style route template (`publish/{id}`, `{id:int}`, `{id?}`, `{*rest}`) as a regex."""
    pattern = ""
    for segment in template.strip("/").split("/"):
        parameter = re.fullmatch(r"\{(\*?)(\w+)(?::[^}?]*)?(\??)\}", segment)
        if parameter is None:
            pattern += "/" + re.escape(segment)
        elif parameter.group(1):
            pattern += rf"(?:/(?P<{parameter.group(2)}>.*))?"
        elif parameter.group(3):
            pattern += rf"(?:/(?P<{parameter.group(2)}>[^/]+))?"
        else:
            pattern += rf"/(?P<{parameter.group(2)}>[^/]+)"
    return re.compile(pattern + "/?", re.IGNORECASE)


def find_http_function(
    functions: list[RegisteredFunction], method: str, url: str
) -> tuple[RegisteredFunction, dict[str, str]]:
    path = urlsplit(url).path
    if not path.lower().startswith(ROUTE_PREFIX):
        raise NoSuchRoute(f"HTTP functions live under {ROUTE_PREFIX}, not {path}", 404)
    relative = path[len(ROUTE_PREFIX) - 1 :]
    path_matched = False
    for function in functions:
        found = _route_pattern(function.trigger.get("route") or function.name).fullmatch(relative)
        if found is None:
            continue
        path_matched = True
        methods = function.trigger.get("methods")
        if methods and method.upper() not in {str(getattr(m, "value", m)).upper() for m in methods}:
            continue
        return function, {k: v for k, v in found.groupdict().items() if v is not None}
    if path_matched:
        raise NoSuchRoute(f"no HTTP function accepts {method} {path}", 405)
    raise NoSuchRoute(f"no HTTP function matches {path}", 404)


def with_route_params(request: func.HttpRequest, route_params: dict[str, str]) -> func.HttpRequest:
    """The request as the host hands it over: route parameters bound, query parameters parsed from the URL."""
    return func.HttpRequest(
        method=request.method,
        url=request.url,
        headers=dict(request.headers),
        params={**dict(parse_qsl(urlsplit(request.url).query)), **dict(request.params)},
        route_params=route_params,
        body=request.get_body(),
    )


def call_function(function: RegisteredFunction, bindings: dict[str, Any], loop: EventLoopThread) -> Any:
    result = function.function(**bindings)
    if inspect.iscoroutine(result):
        return loop.run(result)
    return result


def as_http_response(result: Any) -> func.HttpResponse:
    if isinstance(result, func.HttpResponse):
        return result
    if result is None:
        return func.HttpResponse(status_code=204)
    return func.HttpResponse(body=result if isinstance(result, str | bytes) else str(result))
