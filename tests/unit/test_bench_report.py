"""The staging benchmark's verdicts: judged against the first storage only, each target on its own figure.

A `make bench` run takes about 15 minutes; these check its last step on made-up figures, so that a wrong
verdict or a missing key shows here rather than at the end of a run.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.stage_vs_old_pipeline import STORAGES, report


def _run(over_floor: float, rss: float) -> dict[str, Any]:
    return {"floor_median": 10.0, "ours_median": 10.0 * over_floor, "ours_over_floor": over_floor,
            "storage_cpu_median": 4.0, "ours_peak_rss_mib": rss, "ours_disk_write_bytes": 0}  # fmt: skip


def _dropped(old_over_ours: float) -> dict[str, Any]:
    return {"floor_median": 2.0, "ours_median": 2.4, "old_median": 2.4 * old_over_ours,
            "old_over_ours": old_over_ours, "old_over_floor": 1.2 * old_over_ours}  # fmt: skip


def _results(judged: tuple[float, float, float], other: tuple[float, float, float]) -> dict[str, Any]:
    """(ours/floor at 8 GiB, old/ours at 1 GiB, peak RSS) for the judged storage and the other one."""
    results: dict[str, Any] = {"size_gib": 8, "data_mib": 600, "cpus": 2, "load_average": (0.1, 0.1, 0.1)}
    for storage, (over_floor, old_over_ours, rss) in zip(STORAGES, (judged, other), strict=True):
        part: dict[str, Any] = {"label": storage.label, "two_cores": _run(over_floor, rss),
                                "one_core": _run(1.7, 100.0), "dropped_vs_old": _dropped(old_over_ours)}  # fmt: skip
        if storage is STORAGES[0]:
            part["storage_idle"] = _run(0.95, 100.0)
            part["memory_by_size"] = {"4 GiB": 120.0, "16 GiB": 130.0}
        results[storage.key] = part
    return results


def _targets(text: str) -> list[str]:
    return text.split("targets (against ", 1)[1].splitlines()[1:]


def test_the_targets_are_judged_against_the_first_storage_only() -> None:
    text = report(_results(judged=(1.16, 3.7, 150.0), other=(1.62, 3.0, 160.0)))
    assert f"targets (against {STORAGES[0].label}):" in text
    assert [line.rsplit(": ", 1)[1].split(" (")[0] for line in _targets(text)] == ["met", "met", "met"]
    assert STORAGES[1].label in text and "1.62x" in text  # the other storage is reported


@pytest.mark.parametrize(
    ("judged", "failing"),
    [((1.31, 3.7, 150.0), 0), ((1.16, 3.49, 150.0), 1), ((1.16, 3.7, 257.0), 2)],
    ids=["over the floor", "old over ours", "peak RSS"],
)
def test_each_target_fails_on_its_own_figure(judged: tuple[float, float, float], failing: int) -> None:
    verdicts = ["NOT MET" in line for line in _targets(report(_results(judged, other=(1.0, 9.0, 100.0))))]
    assert verdicts == [index == failing for index in range(3)]


def test_the_peak_rss_target_counts_the_other_storage_too() -> None:
    text = report(_results(judged=(1.16, 3.7, 150.0), other=(1.62, 3.0, 300.0)))
    assert "peak RSS: 300 MiB" in text and _targets(text)[2].endswith("NOT MET")
