"""The extension's HTTP API, answered from the engine, so the real DurableOrchestrationClient works.

Two entrances, as on the host: the RPC endpoints the client binding's `rpcBaseUrl` points at
(`/durabletask/...`, loopback only, no key) and the public webhooks of the check-status response
(`/runtime/webhooks/durabletask/...`, which need the durabletask_extension system key, in `code` or
the `x-functions-key` header, as on Azure; a function key is refused with 401, see host_keys.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from .engine import Engine, InstanceAlreadyRunning, UnknownOrchestrator
from .host_keys import HostKeys
from .instances import InstanceStatus, InvalidInstanceId, RuntimeStatus

RPC_PREFIX = "/durabletask/"
WEBHOOK_PREFIX = "/runtime/webhooks/durabletask/"
INSTANCE_PLACEHOLDER = "INSTANCEID"


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def _json_reply(status: int, value: Any, headers: dict[str, str] | None = None) -> HttpReply:
    return HttpReply(
        status, json.dumps(value).encode(), {"Content-Type": "application/json", **(headers or {})}
    )


def _input_json(body: bytes) -> str | None:
    """The client double-encodes: it posts the JSON *text* of the input as a JSON string."""
    if not body.strip():
        return None
    decoded = json.loads(body)
    if decoded is None:
        return None
    return decoded if isinstance(decoded, str) else body.decode()


def _listed(status: InstanceStatus, query: dict[str, str]) -> bool:
    """The extension's listing filters: createdTimeFrom, createdTimeTo, runtimeStatus (a comma-separated
    list), instanceIdPrefix. A time that does not parse is a 400, as on the host."""
    created = status.created_time
    if "createdTimeFrom" in query and created < _query_time(query["createdTimeFrom"]):
        return False
    if "createdTimeTo" in query and created > _query_time(query["createdTimeTo"]):
        return False
    if "runtimeStatus" in query and status.runtime_status.value not in query["runtimeStatus"].split(","):
        return False
    return status.instance_id.startswith(query.get("instanceIdPrefix", ""))


def _query_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class DurableHttpApi:
    def __init__(self, engine: Engine, task_hub: str, origin: str, keys: HostKeys) -> None:
        self._engine = engine
        self._task_hub = task_hub
        self._origin = origin.rstrip("/")
        self._keys = keys
        self._key = keys.durabletask

    def client_binding(self) -> str:
        """The durableClient binding value the host passes to a `durable_client_input` function."""
        base = f"{self._origin}{WEBHOOK_PREFIX}".rstrip("/")
        query = f"taskHub={self._task_hub}&connection=Storage&code={self._key}"
        create = f"{base}/orchestrators/{{functionName}}[/{{instanceId}}]"
        return json.dumps(
            {
                "taskHubName": self._task_hub,
                "creationUrls": {
                    "createNewInstancePostUri": f"{create}?code={self._key}",
                    "createAndWaitOnNewInstancePostUri": f"{create}?timeout={{timeoutInSeconds}}"
                    f"&pollingInterval={{intervalInSeconds}}&code={self._key}",
                },
                "managementUrls": self._management_urls(INSTANCE_PLACEHOLDER, base, query),
                "baseUrl": base,
                "requiredQueryStringParameters": f"code={self._key}",
                "rpcBaseUrl": f"{self._origin}{RPC_PREFIX}",
                "httpBaseUrl": "",
                "maxGrpcMessageSizeInBytes": 0,
                "grpcHttpClientTimeout": "00:01:40",
            }
        )

    @staticmethod
    def _management_urls(instance_id: str, base: str, query: str) -> dict[str, str]:
        instance = f"{base}/instances/{instance_id}"
        return {
            "id": instance_id,
            "statusQueryGetUri": f"{instance}?{query}",
            "sendEventPostUri": f"{instance}/raiseEvent/{{eventName}}?{query}",
            "terminatePostUri": f"{instance}/terminate?reason={{text}}&{query}",
            "rewindPostUri": f"{instance}/rewind?reason={{text}}&{query}",
            "purgeHistoryDeleteUri": f"{instance}?{query}",
            "restartPostUri": f"{instance}/restart?{query}",
            "suspendPostUri": f"{instance}/suspend?reason={{text}}&{query}",
            "resumePostUri": f"{instance}/resume?reason={{text}}&{query}",
        }

    def handles(self, path: str) -> bool:
        return path.startswith((RPC_PREFIX, WEBHOOK_PREFIX))

    def handle(
        self, method: str, target: str, body: bytes, headers: dict[str, str] | None = None
    ) -> HttpReply:
        url = urlsplit(target)
        query = {name: values[-1] for name, values in parse_qs(url.query).items()}
        if url.path.startswith(WEBHOOK_PREFIX):
            if not self._keys.allows_system(self._key, headers or {}, query):
                return HttpReply(401)
            path = url.path[len(WEBHOOK_PREFIX) :]
        elif url.path.startswith(RPC_PREFIX):
            path = url.path[len(RPC_PREFIX) :]
        else:
            return _json_reply(404, {"Message": f"not a durable task endpoint: {url.path}"})
        parts = [unquote(part) for part in path.split("/")]
        try:
            return self._route(method.upper(), parts, query, body)
        except (
            InvalidInstanceId,
            UnknownOrchestrator,
            InstanceAlreadyRunning,
            ValueError,  # json.JSONDecodeError, a listing time that does not parse
        ) as error:
            return _json_reply(400, {"Message": "bad request", "ExceptionMessage": str(error)})

    def _route(self, method: str, parts: list[str], query: dict[str, str], body: bytes) -> HttpReply:
        match method, parts:
            case "POST", ["orchestrators", name]:
                return self._start(name, None, body)
            case "POST", ["orchestrators", name, instance_id]:
                return self._start(name, instance_id, body)
            case "GET", ["instances", ""] | ["instances"]:
                listed = [status.to_json() for status in self._engine.statuses() if _listed(status, query)]
                return _json_reply(200, listed)
            case "GET", ["instances", instance_id]:
                return self._status(instance_id, show_history=query.get("showHistory", "").lower() == "true")
            case "POST", ["instances", instance_id, "raiseEvent", event_name]:
                outcome = self._engine.raise_event(instance_id, event_name, _input_json(body))
                return self._outcome_reply(outcome, instance_id)
            case "POST", ["instances", instance_id, "terminate"]:
                outcome = self._engine.terminate(instance_id, query.get("reason", ""))
                return self._outcome_reply(outcome, instance_id)
        return _json_reply(
            404, {"Message": f"the local durable runner does not serve {method} {'/'.join(parts)}"}
        )

    def _start(self, name: str, instance_id: str | None, body: bytes) -> HttpReply:
        started = self._engine.start_new(name, _input_json(body), instance_id)
        base = f"{self._origin}{WEBHOOK_PREFIX}".rstrip("/")
        query = f"taskHub={self._task_hub}&connection=Storage&code={self._key}"
        payload = self._management_urls(quote(started, safe=""), base, query)
        payload["id"] = started
        return _json_reply(202, payload, {"Location": payload["statusQueryGetUri"]})

    def _status(self, instance_id: str, show_history: bool) -> HttpReply:
        status = self._engine.status(instance_id)
        if status is None:
            return HttpReply(404)
        body = status.to_json()
        if show_history:
            body["historyEvents"] = self._engine.history(instance_id)
        # As the extension: 202 while it runs, 200 once it is done, failed or not.
        return _json_reply(200 if status.runtime_status.is_terminal else 202, body)

    @staticmethod
    def _outcome_reply(outcome: RuntimeStatus | None, instance_id: str) -> HttpReply:
        if outcome is None:
            return _json_reply(404, {"Message": f"No instance with ID '{instance_id}' found."})
        if outcome.is_terminal:
            return _json_reply(410, {"Message": f"Instance '{instance_id}' is {outcome.value}."})
        return HttpReply(202)
