"""The status of a job in the stable shape the release workflow's client reads.

Built from what the Durable client reports for the job and for its gallery-version children
(whose custom status carries per-region progress). Pure: no I/O, no Functions import.
"""

from __future__ import annotations

from typing import Any

from gallery_publisher.units import MIB


def version_progress_line(child: dict[str, Any]) -> str:
    regions = ", ".join(f"{r['region']} {r['state']} {r['progress']}%" for r in child.get("regions", []))
    return f"{child['version']}: {child['state']}" + (f" ({regions})" if regions else "")


def shape_job_status(
    instance_id: str,
    runtime_status: str,
    custom_status: dict[str, Any] | None,
    output: dict[str, Any] | None,
    children: list[dict[str, Any]],
    created_time: str,
    last_updated_time: str,
    staging: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """`staging` is (RAW bytes read, RAW size) while the RAW is being staged."""
    custom = custom_status or {}
    step = custom.get("step", "")
    progress = [f"step: {step}"] if step else []
    if staging:
        done, total = staging
        progress.append(
            f"staging: {done / MIB:,.0f} of {total / MIB:,.0f} MiB read ({100 * done // max(total, 1)}%)"
        )
    staged = custom.get("staged")
    if staged:
        progress.append(f"staged: {staged['size']:,} bytes, MD5 {staged['md5']}")
    progress += [version_progress_line(child) for child in children if child]
    if output:
        summary, result = output.get("summary", ""), output.get("result")
    else:
        summary, result = custom.get("summary", ""), custom.get("result")
    return {
        "instance_id": instance_id,
        "runtime_status": runtime_status,
        "step": step,
        "progress": progress,
        "versions": [child for child in children if child],
        "staging": {"bytes_read": staging[0], "bytes_total": staging[1]} if staging else None,
        "summary": summary,
        "output": result,
        "created_time": created_time,
        "last_updated_time": last_updated_time,
    }
