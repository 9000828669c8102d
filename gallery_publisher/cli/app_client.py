"""The release workflow's client: submit a job to the Function App and follow it to the end.

It speaks only the app's own routes (`POST /api/publish`, `GET /api/publish/{id}`), so it works the
same against Azure and the local host. The function key travels in a header, never in a URL we print.

A job runs for hours, and the app may restart, scale or be throttled meanwhile: a 5xx, a 429 or a
dropped connection is retried with backoff (a Retry-After is honoured, up to a cap) until it has
lasted `Patience.give_up_after` seconds in a row. Submitting is retried the same way: the starter
answers a repeated request for a running job with that job (409), so a retry never starts two.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, TypeVar

import requests

from gallery_publisher.errors import PublishError, ServiceUnavailableError
from gallery_publisher.http_retry import is_retryable_status

KEY_HEADER = "x-functions-key"
TERMINAL = ("Completed", "Failed", "Terminated", "Canceled")
T = TypeVar("T")


class SubmitError(PublishError):
    """The job was refused or could not be followed."""

    code: ClassVar[str] = "Submit"


class TransientError(SubmitError, ServiceUnavailableError):
    """An answer worth retrying: a retryable status (http_retry) or a dropped connection."""

    code: ClassVar[str] = "Transient"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class GaveUp(SubmitError, ServiceUnavailableError):
    """Retries lasted longer than the patience; `last` is the last status read, if any."""

    code: ClassVar[str] = "GaveUp"

    def __init__(self, message: str, last: JobStatus | None) -> None:
        super().__init__(message)
        self.last = last


@dataclass(frozen=True)
class Patience:
    give_up_after: float = 1800.0  # seconds of failures in a row; an app restart takes minutes
    most_retry_after: float = 300.0  # a longer Retry-After is cut to this


@dataclass(frozen=True)
class Waiting:
    """How the client waits: injectable so that tests need not sleep for minutes."""

    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    on_retry: Callable[[str, float], None] = lambda reason, delay: None


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
    def from_json(cls, data: Mapping[str, Any]) -> JobStatus:
        return cls(
            instance_id=data["instance_id"],
            runtime_status=data["runtime_status"],
            step=data.get("step") or "",
            progress=list(data.get("progress") or []),
            summary=data.get("summary") or "",
            outcome=(data.get("output") or {}).get("outcome", ""),
        )


class PublisherClient:
    def __init__(
        self,
        session: requests.Session,
        function_url: str,
        function_key: str | None,
        backoff: Backoff = Backoff(),
        patience: Patience = Patience(),
        waiting: Waiting = Waiting(),
    ) -> None:
        self._session = session
        self._base = function_url.rstrip("/")
        self._headers = {KEY_HEADER: function_key} if function_key else {}
        self._backoff = backoff
        self._patience = patience
        self._waiting = waiting

    def submit(self, body: dict[str, Any]) -> str:
        """Start the job; return its instance id. A job already running for the image is followed."""
        return self._retrying(lambda: self._submit_once(body), None)

    def _submit_once(self, body: dict[str, Any]) -> str:
        response = self._send("POST", f"{self._base}/api/publish", body)
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
        response = self._send("GET", f"{self._base}/api/publish/{instance_id}")
        if response.status_code not in (200, 202):
            raise SubmitError(f"status of {instance_id}: the app answered {response.status_code}")
        return JobStatus.from_json(_json(response))

    def follow(self, instance_id: str, on_progress: Callable[[JobStatus], None]) -> JobStatus:
        """Poll until the job ends. Raises GaveUp (with the last status seen) when retries run out."""
        last: JobStatus | None = None
        for delay in self._backoff.delays():
            last = self._retrying(lambda: self.status(instance_id), last)
            on_progress(last)
            if last.done:
                return last
            self._waiting.sleep(delay)
        raise AssertionError("unreachable: delays() never ends")

    def _send(self, method: str, url: str, body: dict[str, Any] | None = None) -> requests.Response:
        try:
            response = self._session.request(method, url, json=body, headers=self._headers, timeout=60)
        except (requests.ConnectionError, requests.Timeout) as error:
            raise TransientError(f"the connection failed ({type(error).__name__})") from None
        if is_retryable_status(response.status_code):
            raise TransientError(
                f"the app answered {response.status_code}", _retry_after(response.headers.get("Retry-After"))
            )
        return response

    def _retrying(self, call: Callable[[], T], last: JobStatus | None) -> T:
        waiting, patience = self._waiting, self._patience
        started = waiting.clock()
        delays = self._backoff.delays()
        while True:
            try:
                return call()
            except TransientError as error:
                failing_for = waiting.clock() - started
                left = patience.give_up_after - failing_for
                if left <= 0:
                    raise GaveUp(f"{error}; gave up after {failing_for:.0f} s of retries", last) from None
                wanted = next(delays) if error.retry_after is None else error.retry_after
                delay = min(wanted, patience.most_retry_after, left)
                waiting.on_retry(str(error), delay)
                waiting.sleep(delay)


def _retry_after(value: str | None) -> float | None:
    """Retry-After is a number of seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


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
