"""The release workflow's client: submit a job to the Function App and follow it to the end.

It speaks only the app's own routes (`POST /api/publish`, `GET /api/publish/{id}`), so it works the
same against Azure and the local host. The function key travels in a header, never in a URL we print.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import requests

from gallery_publisher.errors import PublishError

KEY_HEADER = "x-functions-key"
TERMINAL = ("Completed", "Failed", "Terminated", "Canceled")


class SubmitError(PublishError):
    """The job was refused or could not be followed."""


@dataclass(frozen=True)
class Backoff:
    first: float = 2.0
    factor: float = 1.5
    most: float = 30.0

    def delays(self) -> Iterator[float]:
        delay = self.first
        while True:
            yield delay
            delay = min(delay * self.factor, self.most)


@dataclass(frozen=True)
class JobStatus:
    instance_id: str
    runtime_status: str
    step: str
    progress: list[str]
    summary: str
    outcome: str

    @property
    def done(self) -> bool:
        return self.runtime_status in TERMINAL

    @property
    def succeeded(self) -> bool:
        return self.runtime_status == "Completed" and self.outcome in ("published", "dry_run")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobStatus:
        return cls(
            instance_id=data["instance_id"],
            runtime_status=data["runtime_status"],
            step=data.get("step") or "",
            progress=list(data.get("progress") or []),
            summary=data.get("summary") or "",
            outcome=(data.get("output") or {}).get("outcome", ""),
        )


class PublisherClient:
    def __init__(self, session: requests.Session, function_url: str, function_key: str | None) -> None:
        self._session = session
        self._base = function_url.rstrip("/")
        self._headers = {KEY_HEADER: function_key} if function_key else {}

    def submit(self, body: dict[str, Any]) -> str:
        """Start the job; return its instance id. A job already running for the image is followed."""
        response = self._session.post(
            f"{self._base}/api/publish", json=body, headers=self._headers, timeout=60
        )
        data = _json(response)
        if response.status_code in (202, 409):
            return str(data["instance_id"])
        if response.status_code == 400:
            raise SubmitError(f"the job was refused: {data.get('error', response.text[:500])}")
        if response.status_code in (401, 403):
            raise SubmitError(
                "the function key was refused: set GALLERY_PUBLISHER_FUNCTION_KEY to the app's key"
            )
        raise SubmitError(f"the app answered {response.status_code}: {response.text[:500]}")

    def status(self, instance_id: str) -> JobStatus:
        response = self._session.get(
            f"{self._base}/api/publish/{instance_id}", headers=self._headers, timeout=60
        )
        if response.status_code not in (200, 202):
            raise SubmitError(f"status of {instance_id}: the app answered {response.status_code}")
        return JobStatus.from_json(_json(response))

    def follow(
        self,
        instance_id: str,
        on_progress: Callable[[JobStatus], None],
        backoff: Backoff = Backoff(),
        sleep: Callable[[float], None] = time.sleep,
    ) -> JobStatus:
        for delay in backoff.delays():
            status = self.status(instance_id)
            on_progress(status)
            if status.done:
                return status
            sleep(delay)
        raise AssertionError("unreachable: delays() never ends")


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        raise SubmitError(
            f"the app answered {response.status_code} without JSON: {response.text[:300]}"
        ) from None
    if not isinstance(data, dict):
        raise SubmitError(f"the app answered {response.status_code} with unexpected JSON")
    return data
