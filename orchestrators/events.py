"""Telemetry events of the orchestrators, logged once per job: never again when a replay re-runs the code."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from gallery_publisher import telemetry

log = telemetry.job_logger("gallery_publisher.orchestrators")


def emit(
    context: df.DurableOrchestrationContext,
    event: telemetry.Event,
    message: str,
    dimensions: dict[str, Any],
    **fields: Any,
) -> None:
    if not context.is_replaying:
        telemetry.emit(log, event, message, dimensions, **fields)


def job_dimensions(
    context: df.DurableOrchestrationContext, image_url: str, plan: dict[str, Any], step: str
) -> dict[str, str]:
    """The job's dimensions; gallery, definitions and version are known once it is planned."""
    versions = plan.get("versions") or []
    return telemetry.job_dimensions(
        context.instance_id,
        telemetry.image_name(image_url),
        step,
        plan.get("gallery", ""),
        ",".join(v["definition"] for v in versions),
        ",".join(sorted({v["version"] for v in versions})),
    )
