"""The release workflow's client (`gallery-publisher submit`) against the app's local host."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from activities.services import app_services
from local.stack import LOCAL_STORAGE_ACCOUNT_ID, LocalStack, StackOptions, local_stack
from tests.support.app_support import post, put_raw

TIME_SCALE = 0.002


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with local_stack(
        StackOptions(workdir=tmp_path_factory.mktemp("stack"), time_scale=TIME_SCALE)
    ) as running:
        yield running


def submit(
    stack: LocalStack, *args: str, summary_file: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    if summary_file:
        env["GITHUB_STEP_SUMMARY"] = str(summary_file)
    env["GALLERY_PUBLISHER_FUNCTION_KEY"] = stack.runner.keys.function_key
    command = [
        sys.executable,
        "-m",
        "gallery_publisher",
        "submit",
        *args,
        "--function-url",
        stack.runner.origin,
    ]
    return subprocess.run(
        [*command, "--poll-interval", "0.2"], capture_output=True, text=True, env=env, timeout=120
    )


def test_success_prints_progress_and_writes_the_step_summary(stack: LocalStack, tmp_path: Path) -> None:
    url = put_raw(stack, "AlmaLinux-9-Azure-9.6-20250701.0.x86_64.raw")
    summary_file = tmp_path / "summary.md"
    result = submit(stack, url, "--raw", "--no-dry-run", summary_file=summary_file)
    assert result.returncode == 0, result.stderr
    assert "[Running] step: stage" in result.stderr or "[Running] step: publish" in result.stderr
    assert "- Created: 'almalinux_ci/almalinux-9-gen2/9.6.2025070101'" in result.stdout
    assert summary_file.read_text().strip() == result.stdout.strip()


def test_a_dry_run_is_the_default(stack: LocalStack) -> None:
    url = put_raw(stack, "AlmaLinux-9-Azure-9.6-20250702.0.x86_64.raw")
    result = submit(stack, url)
    assert result.returncode == 0, result.stderr
    assert "- Would create: 'almalinux_ci/almalinux-9-gen1/9.6.2025070201'" in result.stdout


def test_a_failed_job_exits_non_zero_with_its_summary(stack: LocalStack) -> None:
    url = put_raw(stack, "AlmaLinux-9-Azure-9.6-20250703.0.aarch64.raw")
    stack.emulator.set_faults(fail_provisioning=True)
    try:
        result = submit(stack, url, "--no-dry-run")
    finally:
        stack.emulator.set_faults(fail_provisioning=False)
    assert result.returncode == 1
    assert "Failed at step **publish**" in result.stdout
    assert "the job ended Failed" in result.stderr


def test_a_refused_request_exits_2_with_the_reason(stack: LocalStack) -> None:
    result = submit(stack, "https://evil.example/AlmaLinux-9-Azure-9.6-20250704.0.x86_64.raw")
    assert result.returncode == 2
    assert "the job was refused" in result.stderr and "not allowed" in result.stderr
    assert result.stdout == ""


def test_a_job_already_running_is_followed_not_duplicated(stack: LocalStack) -> None:
    url = put_raw(stack, "AlmaLinux-9-Azure-9.6-20250705.0.aarch64.raw")
    started = post(stack, {"image_url": url, "dry_run": False})
    assert started.status_code == 202
    result = submit(stack, url, "--no-dry-run")
    assert result.returncode == 0, result.stderr
    assert f"job {started.json()['instance_id']}" in result.stderr
    versions = [v.name for v in app_services().gallery.list_versions("almalinux_ci", "almalinux-9-arm64")]
    assert versions.count("9.6.2025070501") == 1 and "9.6.2025070502" not in versions


def test_plan_reads_what_is_already_there(stack: LocalStack) -> None:
    first = put_raw(stack, "AlmaLinux-9-Azure-9.6-20250706.0.aarch64.raw")
    assert submit(stack, first, "--no-dry-run").returncode == 0
    second = put_raw(stack, "AlmaLinux-9-Azure-9.6-20250706.1.aarch64.raw", seed=7)  # another build, same day
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GALLERY_PUBLISHER_")},
        "GALLERY_PUBLISHER_LOCAL_MODE": "true",
        "GALLERY_PUBLISHER_ARM_ENDPOINT": stack.emulator.base_url,
        "AZURE_STORAGE_CONNECTION_STRING": stack.azurite.connection_string,
        # Azurite's account, as the README says: storageAccountId must name the blobs' account.
        "GALLERY_PUBLISHER_STORAGE_ACCOUNT_ID": LOCAL_STORAGE_ACCOUNT_ID,
    }
    command = [sys.executable, "-m", "gallery_publisher", "plan", "--json"]
    again = subprocess.run([*command, first], capture_output=True, text=True, env=env, timeout=60)
    other = subprocess.run([*command, second], capture_output=True, text=True, env=env, timeout=60)
    assert again.returncode == 0 and other.returncode == 0, again.stderr + other.stderr
    assert (json.loads(again.stdout)["blob_name"], json.loads(again.stdout)["reuses_blob"]) == (
        "almalinux-9.6-arm64.20250706-01.vhd",
        True,
    )
    assert json.loads(other.stdout)["blob_name"] == "almalinux-9.6-arm64.20250706-02.vhd"
