"""The HTTP face of the emulator: ARM routes, bearer check, throttling, LRO headers, paging.

Every request body is read in full before answering, and every answer has a Content-Length,
so the SDK's keep-alive connections stay usable.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from local.gallery_emulator.arm_errors import ArmError
from local.gallery_emulator.faults import FaultSwitch
from local.gallery_emulator.store import Reply, Store

API_VERSION = "2026-03-03"
_NAME = r"([^/]+)"
_GALLERIES = rf"/subscriptions/{_NAME}/resourcegroups/{_NAME}/providers/microsoft\.compute/galleries"
_OPERATION = rf"/subscriptions/{_NAME}/providers/microsoft\.compute/locations/{_NAME}/capsoperations/{_NAME}"


@dataclass
class EmulatorContext:
    store: Store
    faults: FaultSwitch
    base_url: str
    log_requests: bool = False


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    subscription: str

    @property
    def api_version(self) -> str:
        return self.query.get("api-version", API_VERSION)


Answer = tuple[int, dict[str, Any] | None, dict[str, str]]
Route = Callable[[EmulatorContext, Request, tuple[str, ...], float], Answer]


def _lro_headers(context: EmulatorContext, request: Request, reply: Reply) -> dict[str, str]:
    operation = reply.operation
    if operation is None:
        return {}
    url = (
        f"{context.base_url}/subscriptions/{request.subscription}/providers/Microsoft.Compute/locations/"
        f"{operation.location}/capsOperations/{operation.operation_id}"
    )
    headers = {
        "Azure-AsyncOperation": f"{url}?api-version={request.api_version}",
        "Retry-After": context.store.config.retry_after_header(),
    }
    if request.method == "DELETE":
        headers["Location"] = f"{url}?monitor=true&api-version={request.api_version}"
    return headers


def _page(context: EmulatorContext, request: Request, items: list[dict[str, Any]]) -> dict[str, Any]:
    size = context.store.config.page_size
    token = request.query.get("$skiptoken", "0")
    start = int(token) if token.isdigit() else 0
    body: dict[str, Any] = {"value": items[start : start + size]}
    if start + size < len(items):
        body["nextLink"] = (
            f"{context.base_url}{request.path}?api-version={request.api_version}&$skiptoken={start + size}"
        )
    return body


def _galleries(context: EmulatorContext, request: Request, names: tuple[str, ...], now: float) -> Answer:
    _, rg = names
    items = [g.body(request.subscription, now) for g in context.store.list_galleries(rg)]
    return 200, _page(context, request, items), {}


def _gallery(context: EmulatorContext, request: Request, names: tuple[str, ...], now: float) -> Answer:
    _, rg, gallery = names
    store = context.store
    if request.method == "PUT":
        reply = store.put_gallery(rg, gallery, request.body, now)
    elif request.method == "DELETE":
        reply = store.delete_gallery(rg, gallery, now)
        return reply.status, None, _lro_headers(context, request, reply)
    else:
        reply = Reply(200, None)
    return (
        reply.status,
        store.gallery(rg, gallery).body(request.subscription, now),
        _lro_headers(context, request, reply),
    )


def _images(context: EmulatorContext, request: Request, names: tuple[str, ...], now: float) -> Answer:
    _, rg, gallery = names
    items = [i.body(request.subscription, now) for i in context.store.list_images(rg, gallery)]
    return 200, _page(context, request, items), {}


def _image(context: EmulatorContext, request: Request, names: tuple[str, ...], now: float) -> Answer:
    _, rg, gallery, image = names
    store = context.store
    if request.method == "PUT":
        reply = store.put_image(rg, gallery, image, request.body, now)
    elif request.method == "DELETE":
        reply = store.delete_image(rg, gallery, image, now)
        return reply.status, None, _lro_headers(context, request, reply)
    else:
        reply = Reply(200, None)
    body = store.image(rg, gallery, image).body(request.subscription, now)
    return reply.status, body, _lro_headers(context, request, reply)


def _expand_replication(request: Request) -> bool:
    return request.query.get("$expand", "").lower() == "replicationstatus"


def _versions(context: EmulatorContext, request: Request, names: tuple[str, ...], now: float) -> Answer:
    _, rg, gallery, image = names
    versions = context.store.list_versions(rg, gallery, image)
    items = [v.body(request.subscription, now, expand_replication=False) for v in versions]
    return 200, _page(context, request, items), {}


def _version(context: EmulatorContext, request: Request, names: tuple[str, ...], now: float) -> Answer:
    _, rg, gallery, image, version = names
    store = context.store
    if request.method == "PUT":
        reply = store.put_version(rg, gallery, image, version, request.body, context.faults.current(), now)
    elif request.method == "DELETE":
        reply = store.delete_version(rg, gallery, image, version, now)
        return reply.status, None, _lro_headers(context, request, reply)
    else:
        reply = Reply(200, None)
    record = store.version(rg, gallery, image, version)
    body = record.body(request.subscription, now, expand_replication=_expand_replication(request))
    return reply.status, body, _lro_headers(context, request, reply)


def _operation(context: EmulatorContext, request: Request, names: tuple[str, ...], now: float) -> Answer:
    operation = context.store.operation(names[2])
    body = operation.body(now)
    running = body["status"] == "InProgress"
    headers = {"Retry-After": context.store.config.retry_after_header()} if running else {}
    if request.query.get("monitor") == "true":
        # The Location (monitor) URL: 202 while running, then 200 with no body, as ARM answers.
        return (202 if running else 200), None, headers
    return 200, body, headers


ROUTES: list[tuple[frozenset[str], re.Pattern[str], Route]] = [
    (frozenset({"GET"}), re.compile(_GALLERIES + "$"), _galleries),
    (frozenset({"GET", "PUT", "DELETE"}), re.compile(_GALLERIES + f"/{_NAME}$"), _gallery),
    (frozenset({"GET"}), re.compile(_GALLERIES + f"/{_NAME}/images$"), _images),
    (frozenset({"GET", "PUT", "DELETE"}), re.compile(_GALLERIES + f"/{_NAME}/images/{_NAME}$"), _image),
    (frozenset({"GET"}), re.compile(_GALLERIES + f"/{_NAME}/images/{_NAME}/versions$"), _versions),
    (
        frozenset({"GET", "PUT", "DELETE"}),
        re.compile(_GALLERIES + f"/{_NAME}/images/{_NAME}/versions/{_NAME}$"),
        _version,
    ),
    (frozenset({"GET"}), re.compile(_OPERATION + "$"), _operation),
]


class EmulatorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
    server_version = "GalleryEmulator/1.0"
    context: EmulatorContext  # set on the subclass the server builds

    def log_message(self, format: str, *args: Any) -> None:
        if self.context.log_requests:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def _send(self, status: int, body: dict[str, Any] | None, headers: dict[str, str]) -> None:
        payload = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-ms-request-id", self.headers.get("x-ms-client-request-id", "emulator"))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        raw = self._read_body()  # always drained, even when the answer is an error
        split = urlsplit(self.path)
        path = unquote(split.path).rstrip("/")
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        try:
            if path.startswith("/_emulator/"):
                self._send(*self._admin(path, raw))
                return
            self._send(*self._arm(path, query, raw))
        except ArmError as error:
            self._send(error.status, error.body(), error.headers)
        except (
            Exception
        ) as error:  # a bug in the emulator: answer as ARM would rather than drop the connection
            self._send(
                500, {"error": {"code": "InternalServerError", "message": f"emulator error: {error!r}"}}, {}
            )
            raise

    def _admin(self, path: str, raw: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        context = self.context
        if path == "/_emulator/faults" and self.command == "POST":
            try:
                update = json.loads(raw or b"{}")
                if not isinstance(update, dict):
                    raise ValueError("send the faults to change as a JSON object")
                faults = context.faults.update(update)
            except (ValueError, TypeError) as error:
                return 400, {"error": {"code": "InvalidFaults", "message": str(error)}}, {}
            return 200, faults.to_json(), {}
        if path == "/_emulator/faults" and self.command == "GET":
            return 200, context.faults.current().to_json(), {}
        if path == "/_emulator/state" and self.command == "GET":
            return 200, self._state(), {}
        return 404, {"error": {"code": "NotFound", "message": f"no admin route {self.command} {path}"}}, {}

    def _state(self) -> dict[str, Any]:
        store = self.context.store
        now = time.monotonic()
        with store.lock:
            store.purge(now)
            versions = [
                {
                    "id": v.resource_id("{subscription}"),
                    "provisioningState": v.provisioning_state(now),
                    "source": v.source_uri.split("?", 1)[0],
                }
                for v in store.versions.values()
            ]
            return {
                "faults": self.context.faults.current().to_json(),
                "galleries": [g.resource_id("{subscription}") for g in store.galleries.values()],
                "images": [i.resource_id("{subscription}") for i in store.images.values()],
                "versions": versions,
            }

    def _arm(
        self, path: str, query: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        authorization = self.headers.get("Authorization", "")
        if not authorization.startswith("Bearer ") or not authorization[7:].strip():
            raise ArmError(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing or is not a Bearer token.",
            )
        if "api-version" not in query:
            raise ArmError(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        injected = self.context.faults.error_for_next_request()
        if injected is not None:
            raise injected
        body: dict[str, Any] = {}
        if self.command in ("PUT", "PATCH", "POST"):
            try:
                parsed = json.loads(raw or b"{}")
            except ValueError as error:
                raise ArmError(
                    400, "InvalidRequestContent", f"The request content is not valid JSON: {error}"
                ) from None
            if not isinstance(parsed, dict):
                raise ArmError(400, "InvalidRequestContent", "The request content must be a JSON object.")
            body = parsed
        lowered = path.lower()
        for methods, pattern, route in ROUTES:
            match = pattern.fullmatch(lowered)
            if match is None:
                continue
            if self.command not in methods:
                raise ArmError(
                    405, "MethodNotAllowed", f"The method {self.command} is not allowed on {path}."
                )
            # Match on the lower-cased path, then take the names as the caller spelled them.
            names = tuple(path[match.start(i) : match.end(i)] for i in range(1, (match.lastindex or 0) + 1))
            request = Request(self.command, path, query, body, names[0])
            now = time.monotonic()
            with self.context.store.lock:
                self.context.store.purge(now)
                status, reply_body, headers = route(self.context, request, names, now)
            return status, reply_body, headers
        raise ArmError(404, "InvalidResourceType", f"No emulated resource type matches {path}.")
