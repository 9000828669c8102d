"""`make run ONCE=1`: the local stack publishes the sample image to the local gallery."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest
import requests

from activities.services import app_services
from local import run_demo
from local.stack import LocalStack


def test_make_run_once_publishes_the_sample_to_the_local_gallery(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    found: dict[str, list[str]] = {}
    page: list[str] = []

    def inspect(stack: LocalStack, code: int) -> None:
        url = run_demo.job_page_url(stack)
        page.append(f"{url} {requests.get(url, timeout=10).status_code}")
        for definition in ("almalinux-9-gen1", "almalinux-9-gen2"):
            listed = app_services().gallery.list_versions("almalinux_ci", definition)
            found[definition] = [f"{v.name} {v.provisioning_state}" for v in listed]

    code = run_demo.run(tmp_path / "run", once=True, port=0, time_scale=0.002, disk_mib=64, on_done=inspect)
    output = capfd.readouterr().out
    assert code == 0
    version = f"9.6.{date.today():%Y%m%d}01"
    assert found == {
        "almalinux-9-gen1": [f"{version} Succeeded"],
        "almalinux-9-gen2": [f"{version} Succeeded"],
    }
    [shown] = page
    assert shown.endswith(" 200") and f"Job page (follow the job in a browser): {shown[:-4]}\n" in output
    assert f"- Created: 'almalinux_ci/almalinux-9-gen1/{version}'" in output
    assert f"- Created: 'almalinux_ci/almalinux-9-gen2/{version}'" in output
    sample = (
        tmp_path
        / "run"
        / "images"
        / "almalinux-images"
        / f"AlmaLinux-9-Azure-9.6-{date.today():%Y%m%d}.0.x86_64.raw"
    )
    digest = hashlib.sha256(sample.read_bytes()).hexdigest()
    assert f"- Source verified: ✅ SHA-256 `{digest}` matches the published .sha256sum" in output
