"""Benchmark: both generations of an x86_64 image created at the same time, against one after the
other, through the app's real gallery_version orchestration and activities, against the gallery
emulator with a few seconds of replication per region.

    python -m bench.parallel_versions [--runs 3]

The "one after the other" side is what the old script did (Gen1, wait, then Gen2). The issue's goal:
all-at-once at most 0.6x the one-after-the-other wall time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import azure.durable_functions as df
from azure.storage.blob import ContentSettings

from function_app import create_app
from gallery_publisher import telemetry
from gallery_publisher.jobs.messages import VersionJob
from gallery_publisher.urls import blob_location, redact_url
from local.stack import LocalStack, StackOptions, local_stack
from orchestrators import names
from tests.support.app_support import put_raw, run_job

TIME_SCALE = 0.05  # 60 simulated seconds per region = 3 real seconds
bench = df.Blueprint()


@bench.orchestration_trigger(context_name="context", orchestration="versions_one_after_another")
def versions_one_after_another(context: df.DurableOrchestrationContext) -> Generator[Any, Any, list[Any]]:
    outcomes = []
    for number, job in enumerate(context.get_input()):
        outcomes.append(
            (
                yield context.call_sub_orchestrator(
                    names.GALLERY_VERSION, job, f"{context.instance_id}:{number}"
                )
            )
        )
    return outcomes


@bench.orchestration_trigger(context_name="context", orchestration="versions_all_at_once")
def versions_all_at_once(context: df.DurableOrchestrationContext) -> Generator[Any, Any, list[Any]]:
    jobs = context.get_input()
    outcomes: list[Any] = yield context.task_all([
        context.call_sub_orchestrator(names.GALLERY_VERSION, job, f"{context.instance_id}:{n}") for n, job in enumerate(jobs)
    ])  # fmt: skip
    return outcomes


def _copy_as_index(stack: LocalStack, staged: dict[str, Any], index: int) -> str:
    """A copy of the staged blob under upload index `index`; its URL."""
    location = blob_location(staged["blob_url"], stack.blobs.url)
    assert location is not None, f"{staged['blob_url']} is not a blob of the local stack's account"
    source = stack.blobs.get_blob_client(*location)
    copy = stack.blobs.get_blob_client("9-default", f"almalinux-9.6-x86_64.20251215-{index:02d}.vhd")
    md5 = bytearray(bytes.fromhex(staged["md5"]))
    copy.upload_blob(source.download_blob().readall(), blob_type="PageBlob",
                     content_settings=ContentSettings(content_md5=md5))  # fmt: skip
    return redact_url(copy.url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    settings = {"GALLERY_PUBLISHER_POLL_SECONDS": "5"}
    with tempfile.TemporaryDirectory() as workdir:
        options = StackOptions(Path(workdir), time_scale=TIME_SCALE, region_seconds=60, validation_seconds=20,
                               settings=settings)  # fmt: skip
        app = create_app()
        app.register_functions(bench)
        with local_stack(options, app=app) as stack:
            staged = run_job(stack, {"image_url": put_raw(stack, "AlmaLinux-9-Azure-9.6-20251215.0.x86_64.raw"),
                                     "dry_run": False}, timeout=300)  # fmt: skip
            result = staged["output"]
            times: dict[str, list[float]] = {"versions_all_at_once": [], "versions_one_after_another": []}
            indices = iter(range(2, 100))  # a fresh upload index, so a fresh version, for every trial
            for _ in range(args.runs):
                for orchestration, durations in times.items():
                    index = next(indices)
                    # The version must be the one its blob's name gives (the write guard checks it).
                    staged_copy = {
                        **result["staged"],
                        "blob_url": _copy_as_index(stack, result["staged"], index),
                    }
                    name = f"9.6.20251215{index:02d}"
                    dimensions = telemetry.job_dimensions(orchestration, "bench.raw", "publish")
                    jobs = [
                        VersionJob.from_plan(
                            result["plan"], {**version, "version": name}, staged_copy, dimensions
                        ).to_json()
                        for version in result["plan"]["versions"]
                    ]
                    began = time.monotonic()
                    status = stack.runner.wait_for(stack.runner.start_new(orchestration, jobs), 600)
                    durations.append(time.monotonic() - began)
                    assert [o["state"] for o in status.output] == ["Succeeded", "Succeeded"], status.output
    parallel = statistics.median(times["versions_all_at_once"])
    sequential = statistics.median(times["versions_one_after_another"])
    print(f"Gen1 + Gen2, medians of {args.runs}: all at once {parallel:.2f} s, one after the other "
          f"{sequential:.2f} s, ratio {parallel / sequential:.2f} (goal <= 0.6)")  # fmt: skip


if __name__ == "__main__":
    main()
