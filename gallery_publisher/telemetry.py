"""Structured telemetry: every event a job logs, and the dimensions each one carries.

Each dimension travels as an attribute of the log record (the `extra` of a logging call). In Azure
the Python worker hands our loggers to the Azure Monitor OpenTelemetry distro
(`PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY`, `PYTHON_APPLICATIONINSIGHTS_LOGGER_NAME`), whose
logging handler turns record attributes into the `customDimensions` of a row of `traces`. The
workbook (infra/monitoring-workbook.json) queries exactly these names; a test holds it to this list.

Every line of a job, event or not, carries the job dimensions: activities set them for the length
of a call (`job_context`), and loggers from `job_logger` add them to each record. String values are
stripped of URL query strings, so no SAS token or signature reaches the logs.
"""

from __future__ import annotations

import contextvars
import enum
import logging
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any

from gallery_publisher.urls import redact_text

# The root of our loggers: the Bicep sets PYTHON_APPLICATIONINSIGHTS_LOGGER_NAME to it, so that only
# our lines (not the SDKs', whose request lines carry query strings) are exported.
ROOT_LOGGER = "gallery_publisher"

# On every line of a job. `definition` and `version` of a job-wide line list all of the job's.
JOB_DIMENSIONS = ("instance_id", "image", "step", "gallery", "definition", "version")


class Event(enum.StrEnum):
    JOB_STARTED = "job_started"
    STEP_FINISHED = "step_finished"
    STAGED = "staged"
    REGION_PROGRESS = "region_progress"
    VERSION_FINISHED = "version_finished"
    JOB_FINISHED = "job_finished"
    NOTIFICATION_FAILED = "notification_failed"


# What each event adds to the job dimensions. Seconds are orchestration time, except those of
# `staged`, which are the staging's own (wall clock): bytes / seconds is the staging throughput.
EVENTS: dict[Event, tuple[str, ...]] = {
    Event.JOB_STARTED: ("trigger",),  # trigger: "http" (the release workflow, curl) or "blob"
    Event.STEP_FINISHED: ("seconds", "ok"),
    Event.STAGED: ("bytes", "seconds", "reused"),
    Event.REGION_PROGRESS: ("region", "state", "progress"),
    Event.VERSION_FINISHED: ("state", "seconds", "error_code", "error_message"),
    Event.JOB_FINISHED: ("outcome", "seconds", "failed_step", "error_code", "error_message"),
    Event.NOTIFICATION_FAILED: ("error_message",),
}

ALL_DIMENSIONS = frozenset(("event", *JOB_DIMENSIONS, *(name for extra in EVENTS.values() for name in extra)))

_NONE: Mapping[str, Any] = MappingProxyType({})
_current: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar("job_dimensions", default=_NONE)


def job_dimensions(
    instance_id: str, image: str, step: str, gallery: str = "", definition: str = "", version: str = ""
) -> dict[str, str]:
    return {
        "instance_id": instance_id,
        "image": image,
        "step": step,
        "gallery": gallery,
        "definition": definition,
        "version": version,
    }


def image_name(image_url: str) -> str:
    """The file name of the image, as the job's status shows it (never the query string)."""
    return image_url.split("?", 1)[0].split("#", 1)[0].rsplit("/", 1)[-1]


@contextmanager
def job_context(dimensions: Mapping[str, Any] | None) -> Iterator[None]:
    """Lines logged through a `job_logger` inside the block carry these job dimensions."""
    token = _current.set(dict(dimensions or {}))
    try:
        yield
    finally:
        _current.reset(token)


class _JobLogger(logging.LoggerAdapter[logging.Logger]):
    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs["extra"] = _clean({**_current.get(), **(kwargs.get("extra") or {})})
        return msg, kwargs


def job_logger(name: str) -> logging.LoggerAdapter[logging.Logger]:
    """A logger whose every line carries the job dimensions of the current `job_context`."""
    if name != ROOT_LOGGER and not name.startswith(ROOT_LOGGER + "."):
        raise ValueError(f"logger {name!r} is not under {ROOT_LOGGER!r}: its lines would not be exported")
    return _JobLogger(logging.getLogger(name), {})


def emit(
    log: logging.LoggerAdapter[logging.Logger],
    event: Event,
    message: str,
    dimensions: Mapping[str, Any] | None = None,
    level: int = logging.INFO,
    **fields: Any,
) -> None:
    """Log one event: `dimensions` are the job's (default: the current `job_context`), `fields` exactly
    the event's own dimensions (a wrong or missing name is a programming error, raised here)."""
    expected = set(EVENTS[event])
    if set(fields) != expected:
        raise ValueError(f"{event} takes {sorted(expected)}, got {sorted(fields)}")
    job = {**_current.get(), **(dimensions or {})}
    missing = set(JOB_DIMENSIONS) - set(job)
    if missing:
        raise ValueError(f"{event} is missing the job dimensions {sorted(missing)}")
    log.log(level, redact_text(message), extra={**job, "event": event.value, **fields})


def _clean(values: Mapping[str, Any]) -> dict[str, Any]:
    """Values as telemetry can carry them (str, int, float, bool), strings without URL query strings."""
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, bool | int | float):
            cleaned[name] = value
        else:
            cleaned[name] = redact_text(str(value))
    return cleaned
