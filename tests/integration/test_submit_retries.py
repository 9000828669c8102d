"""`submit` rides out a Function App that restarts, throttles or drops connections while a job runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
import requests

from gallery_publisher.cli.app_client import (
    Backoff,
    GaveUp,
    Patience,
    PublisherClient,
    SubmitError,
    Waiting,
    _retry_after,
)
from gallery_publisher.jobs.status import shape_job_status
from tests.support.scripted_server import Answer, scripted_server

INSTANCE = "gp-feedfacefeedface"
JSON = {"Content-Type": "application/json"}


def status_answer(runtime_status: str, outcome: str = "") -> Answer:
    output = {"result": {"outcome": outcome}, "summary": f"summary {outcome}"} if outcome else None
    body = shape_job_status(INSTANCE, runtime_status, {"step": "publish"}, output, [], "", "")
    return Answer(200 if outcome else 202, JSON, json.dumps(body).encode())


ACCEPTED = Answer(202, JSON, json.dumps({"instance_id": INSTANCE}).encode())


def script(*answers: Answer) -> Callable[..., Answer]:
    """Answers in order; the last one repeats."""
    queue = list(answers)

    def answer(*_: object) -> Answer:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return answer


class FakeTime:
    """A clock that moves only when the client sleeps, so hours of retries take no time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.retries: list[str] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def waiting(self) -> Waiting:
        return Waiting(self.sleep, lambda: self.now, lambda reason, delay: self.retries.append(reason))


def client(origin: str, time: FakeTime, give_up_after: float = 1800.0) -> PublisherClient:
    return PublisherClient(
        requests.Session(),
        origin,
        "key",
        Backoff(first=2.0),
        Patience(give_up_after=give_up_after),
        time.waiting(),
    )


def test_follow_retries_5xx_429_and_dropped_connections_honouring_retry_after() -> None:
    answers = script(
        status_answer("Running"),
        Answer(503, {"Retry-After": "7"}),
        Answer(429, {"Retry-After": "100000"}),
        Answer(0, drop=True),
        Answer(502),
        status_answer("Running"),
        status_answer("Completed", "published"),
    )
    time = FakeTime()
    with scripted_server(answers) as server:
        final = client(server.url("127.0.0.1", ""), time).follow(INSTANCE, lambda status: None)
    assert final.succeeded
    # poll wait 2; then Retry-After 7, Retry-After capped at 300, and backoff 2 and 3 for the
    # failures without one; then the next poll wait, 3
    assert time.sleeps == [2.0, 7.0, 300.0, 2.0, 3.0, 3.0]
    assert time.retries == [
        "the app answered 503", "the app answered 429",
        "the connection failed (ConnectionError)", "the app answered 502",
    ]  # fmt: skip


def test_follow_gives_up_after_its_patience_with_the_last_status() -> None:
    time = FakeTime()
    answers = script(status_answer("Running"), Answer(500))
    with scripted_server(answers) as server, pytest.raises(GaveUp) as raised:
        client(server.url("127.0.0.1", ""), time, give_up_after=600).follow(INSTANCE, lambda status: None)
    assert raised.value.last is not None and raised.value.last.runtime_status == "Running"
    assert "the app answered 500; gave up after 600 s" in str(raised.value)
    assert sum(time.sleeps[1:]) == pytest.approx(600)  # never sleeps past the patience


def test_submit_is_retried_and_a_client_error_is_not() -> None:
    time = FakeTime()
    with scripted_server(script(Answer(404)), answer_post=script(Answer(500), ACCEPTED)) as server:
        publisher = client(server.url("127.0.0.1", ""), time)
        assert publisher.submit({"image_url": "x"}) == INSTANCE
        with pytest.raises(SubmitError) as raised:
            publisher.status(INSTANCE)
    assert not isinstance(raised.value, GaveUp) and "answered 404" in str(raised.value)
    assert [arrival.method for arrival in server.arrivals] == ["POST", "POST", "GET"]


def test_retry_after_as_an_http_date() -> None:
    later = datetime.now(UTC) + timedelta(seconds=120)
    assert 110 <= (_retry_after(format_datetime(later, usegmt=True)) or 0) <= 120
    assert _retry_after("soon") is None and _retry_after("15") == 15.0


def _submit_cli(
    function_url: str, give_up_after: float, summary_file: Path
) -> subprocess.CompletedProcess[str]:
    """`gallery-publisher submit` as the workflow runs it, with a short patience."""
    return subprocess.run(
        [sys.executable, "-m", "gallery_publisher", "submit", "https://x/AlmaLinux-9-Azure-9.6-20250701.0.x86_64.raw",
         "--function-url", function_url, "--poll-interval", "0.05", "--give-up-after", str(give_up_after)],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "GITHUB_STEP_SUMMARY": str(summary_file)},
    )  # fmt: skip


def test_the_cli_writes_what_it_knows_to_the_step_summary_when_it_gives_up(tmp_path: Path) -> None:
    summary_file = tmp_path / "summary.md"
    answers = script(status_answer("Running"), Answer(503))
    with scripted_server(answers, answer_post=script(ACCEPTED)) as server:
        result = _submit_cli(server.url("127.0.0.1", ""), give_up_after=0.5, summary_file=summary_file)
    assert result.returncode == 1
    assert "the app answered 503; retrying in" in result.stderr
    written = summary_file.read_text()
    assert "Lost track of the job" in written and "the app answered 503; gave up after" in written
    assert f"`{INSTANCE}` may still be running" in written
    assert "Last known status: **Running**, step publish." in written


def test_a_submit_that_never_gets_through_says_so_in_the_step_summary(tmp_path: Path) -> None:
    summary_file = tmp_path / "summary.md"
    with scripted_server(script(Answer(404)), answer_post=script(Answer(502))) as server:
        result = _submit_cli(server.url("127.0.0.1", ""), give_up_after=0.3, summary_file=summary_file)
    assert result.returncode == 1
    assert summary_file.read_text().startswith(
        "**The job could not be submitted**: the app answered 502; gave up"
    )
