"""Route and shape the host's side of HTTP and other triggers; the worker (worker.py) makes the call.

Coroutine functions run on one long-lived event loop: the SDK keeps a module-level aiohttp session
bound to the loop that created it, so a fresh loop per call would break the second call.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func

from .app_functions import RegisteredFunction
from .worker import TypedData, protos

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
        if not self._loop.is_running():
            # A call after close() would wait forever on a loop that no longer runs.
            coroutine.close()
            raise RuntimeError("the functions host has stopped")
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


def http_trigger_data(
    method: str, url: str, headers: dict[str, str], body: bytes, route_params: dict[str, str]
) -> TypedData:
    """The HTTP trigger as the host sends it (RpcHttp; the raw body as bytes, the worker's RawHttpBodyBytes)."""
    return TypedData(
        http=protos.RpcHttp(
            method=method,
            url=url,
            headers=headers,
            body=TypedData(bytes=body) if body else TypedData(),
            params=route_params,
            query=dict(parse_qsl(urlsplit(url).query, keep_blank_values=True)),
        )
    )


def http_response_of(data: TypedData | None) -> func.HttpResponse:
    """The HTTP response the host builds from the worker's encoded return value."""
    kind = data.WhichOneof("data") if data is not None else None
    if data is None or kind not in ("http", "string"):
        raise TypeError(f"an HTTP function must return an HttpResponse or a str, the worker sent {kind}")
    if kind == "string":
        return func.HttpResponse(body=data.get("string"))
    http = data.get("http")
    body = http.body
    body_kind = body.WhichOneof("data") if body is not None else None
    content = b"" if body_kind is None else body.get(body_kind)
    return func.HttpResponse(
        body=content.encode() if isinstance(content, str) else bytes(content),
        status_code=int(http.status_code),
        headers=dict(http.headers),
    )
