"""The release workflow, run as a runner runs it.

Its own install step runs in a fresh venv (no Azure SDK there, as on the runner), its `${{ }}`
expressions are evaluated with GitHub's semantics (tests/support/github_expressions.py), and its `run:` step
runs with bash against a fake Function App that records the request and answers as the starter and
the status route do. Only the `uses:` steps are not run: checkout is the copy of the repository, and
setup-python is checked against the interpreter of the venv.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from gallery_publisher.jobs.status import shape_job_status
from tests.support.github_expressions import substitute
from tests.support.scripted_server import Answer, ScriptedServer, scripted_server

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "azure-to-gallery.yml"
FUNCTION_KEY = "test-function-key-0123456789"
INSTANCE_ID = "gp-0123456789abcdef"
RAW_URL = "https://almalinux.s3.amazonaws.com/AlmaLinux-9-Azure-9.6-20250701.0.x86_64.raw"
VHD_URL = "https://almalinux.blob.core.windows.net/9-default/almalinux-9.6-x64.20250701-01.vhd"
BOOLEAN_INPUTS = ("dry-run-mode", "public_gallery", "notify_mattermost")


def load_workflow() -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return data


def steps() -> list[dict[str, Any]]:
    jobs = load_workflow()["jobs"]
    assert list(jobs) == ["release"], "the test knows one job"
    found: list[dict[str, Any]] = jobs["release"]["steps"]
    return found


def dispatch_inputs() -> dict[str, Any]:
    # PyYAML reads the key `on` as the boolean True (YAML 1.1); GitHub reads it as "on".
    workflow = load_workflow()
    on: dict[str, Any] = workflow["on"] if "on" in workflow else workflow[True]
    inputs: dict[str, Any] = on["workflow_dispatch"]["inputs"]
    return inputs


@pytest.fixture(scope="module")
def runner_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checkout (tracked and new files, as committed) and the install step, in a fresh venv."""
    work = tmp_path_factory.mktemp("runner")
    checkout = work / "checkout"
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO, capture_output=True, check=True, text=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, checkout / name)
    venv = work / "venv"
    base_python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base_python, "-m", "venv", str(venv)], check=True)
    (install,) = [step for step in steps() if step.get("name") == "Install the client"]
    result = subprocess.run(
        ["bash", "-e", "-c", install["run"]],
        cwd=checkout, env=runner_env(venv), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return venv


def runner_env(venv: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    # pip's own settings (index, certificates) stay, so the install step uses this machine's index.
    env = {
        name: value
        for name, value in os.environ.items()
        if name in ("HOME", "LANG") or name.startswith("PIP_")
    }
    env["PATH"] = f"{venv / 'bin'}:/usr/bin:/bin"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return {**env, **(extra or {})}


@dataclass
class FakeApp:
    server: ScriptedServer
    polls: int = 0

    @property
    def origin(self) -> str:
        return self.server.url("127.0.0.1", "")


@pytest.fixture
def fake_app() -> Iterator[FakeApp]:
    """Answers as the app does: 202 with the instance id, then the status (Running, then the end)."""
    requests: list[dict[str, Any]] = []

    def post(path: str, body: bytes) -> Answer:
        if path != "/api/publish":
            return Answer(404)
        requests.append(json.loads(body))
        status_url = app.server.url("127.0.0.1", f"/api/publish/{INSTANCE_ID}")
        return Answer(202, {"Content-Type": "application/json"}, json.dumps(
            {"id": INSTANCE_ID, "instance_id": INSTANCE_ID, "status_url": status_url}
        ).encode())  # fmt: skip

    def get(path: str) -> Answer:
        if path != f"/api/publish/{INSTANCE_ID}" or not requests:
            return Answer(404)
        app.polls += 1
        dry_run = requests[-1]["dry_run"]
        outcome = "dry_run" if dry_run else "published"
        summary = f"outcome {outcome}, public {requests[-1]['public_gallery']}"
        output = (
            {"result": {"outcome": outcome}, "summary": summary} if app.polls > 1 else None
        )  # Running first, as a real job
        custom = {"step": "publish"}
        shaped = shape_job_status(
            INSTANCE_ID, "Completed" if output else "Running", custom, output, [], "", ""
        )
        return Answer(
            200 if output else 202, {"Content-Type": "application/json"}, json.dumps(shaped).encode()
        )

    with scripted_server(get, answer_post=post) as server:
        app = FakeApp(server)
        yield app


def test_setup_python_is_a_version_the_package_supports() -> None:
    (setup,) = [step for step in steps() if str(step.get("uses", "")).startswith("actions/setup-python@")]
    assert setup["with"]["python-version"] == f"{sys.version_info.major}.{sys.version_info.minor}"


def test_the_install_step_pins_the_requests_of_requirements() -> None:
    (install,) = [step for step in steps() if step.get("name") == "Install the client"]
    pinned = [
        line for line in (REPO / "requirements.txt").read_text().splitlines() if line.startswith("requests==")
    ]
    assert pinned and pinned[0] in install["run"]


def test_the_runner_venv_has_no_azure_sdk(runner_venv: Path) -> None:
    result = subprocess.run(
        [str(runner_venv / "bin" / "python"), "-c", "import azure"], capture_output=True, text=True
    )
    assert "ModuleNotFoundError" in result.stderr


@pytest.mark.parametrize("url_type", ["RAW at AWS S3", "VHD blob at Azure"])
@pytest.mark.parametrize("flags", list(itertools.product([True, False], repeat=len(BOOLEAN_INPUTS))))
def test_the_publish_step_sends_what_was_asked(
    runner_venv: Path, fake_app: FakeApp, tmp_path: Path, url_type: str, flags: tuple[bool, ...]
) -> None:
    declared = dispatch_inputs()
    assert set(BOOLEAN_INPUTS) == {name for name, spec in declared.items() if spec["type"] == "boolean"}
    assert url_type in declared["url_type"]["options"]
    inputs: dict[str, Any] = {"url_type": url_type, "image_url": VHD_URL if "VHD" in url_type else RAW_URL}
    inputs.update(zip(BOOLEAN_INPUTS, flags, strict=True))
    contexts = {
        "inputs": inputs,
        "vars": {"GALLERY_PUBLISHER_FUNCTION_URL": fake_app.origin},
        "secrets": {"GALLERY_PUBLISHER_FUNCTION_KEY": FUNCTION_KEY},
    }
    (publish,) = [step for step in steps() if step.get("name") == "Publish through the Function App"]
    step_env = {name: substitute(str(value), contexts) for name, value in publish["env"].items()}
    summary_file = tmp_path / "step-summary.md"
    env = runner_env(runner_venv, {**step_env, "GITHUB_STEP_SUMMARY": str(summary_file)})
    result = subprocess.run(
        ["bash", "-e", "-c", substitute(publish["run"], contexts)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (post,) = [arrival for arrival in fake_app.server.arrivals if arrival.method == "POST"]
    sent = json.loads(post.body)
    assert sent["dry_run"] is inputs["dry-run-mode"]
    assert sent["public_gallery"] is inputs["public_gallery"]
    assert sent["notify"] is inputs["notify_mattermost"]
    assert sent["url_type"] == ("vhd" if "VHD" in url_type else "raw")
    assert sent["image_url"] == inputs["image_url"]
    for arrival in fake_app.server.arrivals:
        assert arrival.headers.get("x-functions-key") == FUNCTION_KEY
        assert FUNCTION_KEY not in arrival.path
    assert FUNCTION_KEY not in result.stdout + result.stderr
    expected_outcome = "dry_run" if inputs["dry-run-mode"] else "published"
    assert (
        summary_file.read_text().strip() == f"outcome {expected_outcome}, public {inputs['public_gallery']}"
    )
