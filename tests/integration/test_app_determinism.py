"""The job's outcome does not depend on the order in which parallel work completes.

Each seed makes the durable runner deliver completions in another order; the runner also checks on
every replay that the orchestrator's actions only ever append (it fails the job otherwise). One
stack per seed: the SDK's client session belongs to one runner's event loop at a time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from local.stack import StackOptions, local_stack
from tests.support.app_support import put_raw, run_job

TIME_SCALE = 0.002


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_completion_order_does_not_change_the_outcome(tmp_path: Path, seed: int) -> None:
    options = StackOptions(workdir=tmp_path, time_scale=TIME_SCALE, seed=seed)
    with local_stack(options) as fresh:
        status = run_job(
            fresh,
            {"image_url": put_raw(fresh, "AlmaLinux-10-Azure-10.0-20250608.0.x86_64.raw"), "dry_run": False},
        )
    assert status["runtime_status"] == "Completed", status["summary"]
    assert [(v["definition"], v["version"], v["state"]) for v in status["output"]["versions"]] == [
        ("almalinux-10-gen1", "10.0.202506080", "Succeeded"),
        ("almalinux-10-gen2", "10.0.202506080", "Succeeded"),
    ]
