"""Every command keeps the exit-status promise (exit_codes.py): 0 when done, 2 when refused (one line
on stderr, nothing on stdout), 1 when a service fails or cannot be reached.

Run as a user runs them, `python -m gallery_publisher …`, so the status is the one a shell sees.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ServiceRequestError
from azure.storage.blob import BlobServiceClient

from gallery_publisher.cli import exit_codes
from gallery_publisher.cli.app_client import GaveUp, SubmitError
from gallery_publisher.cli.command_errors import exit_status_and_message
from gallery_publisher.errors import PublishError, ServiceUnavailableError, SettingsError
from gallery_publisher.gallery.client import GalleryError, GalleryRetryableError
from local.azurite import ACCOUNT_KEY, ACCOUNT_NAME, Azurite
from local.gallery_emulator import running_emulator
from tests.support.cli_process import run_cli
from tests.support.gallery_support import FAST
from tests.support.raw_images import MIB, new_container, write_sparse_raw
from tests.support.scripted_server import Answer, scripted_server

NAME = "AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw"
JSON = {"Content-Type": "application/json"}


def assert_refused(result: subprocess.CompletedProcess[str], label: str, reason: str) -> None:
    assert result.returncode == exit_codes.REFUSED, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith(f"{label}: ") and reason in result.stderr, result.stderr


def assert_failed(result: subprocess.CompletedProcess[str], label: str, reason: str) -> None:
    assert result.returncode == exit_codes.FAILED, result.stderr
    assert f"{label}: " in result.stderr and reason in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on: a service that cannot be reached."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    yield port


def local_gallery(endpoint: str) -> dict[str, str]:
    return {"GALLERY_PUBLISHER_LOCAL_MODE": "true", "GALLERY_PUBLISHER_ARM_ENDPOINT": endpoint}


def storage_at(endpoint: str) -> dict[str, str]:
    return {
        "AZURE_STORAGE_CONNECTION_STRING": f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};"
        f"AccountKey={ACCOUNT_KEY};BlobEndpoint={endpoint}/{ACCOUNT_NAME};"
    }


def test_plan_exits_0_when_done_2_when_refused_1_when_the_gallery_is_unreachable(closed_port: int) -> None:
    assert run_cli("plan", "--offline", NAME).returncode == exit_codes.OK
    assert_refused(
        run_cli("plan", "--offline", "AlmaLinux-9.ppc64le.raw"), "error", "Could not parse filename"
    )
    unreachable = run_cli("plan", NAME, env=local_gallery(f"http://127.0.0.1:{closed_port}"))
    assert_failed(unreachable, "error", "reading image definition")


def test_old_flags_exit_0_when_done_and_2_when_refused() -> None:
    assert run_cli("-d", "9.6", "-t", "default", "-i", NAME).returncode == exit_codes.OK
    assert_refused(run_cli("-d", "9.5", "-t", "default", "-i", NAME), "error", "-d 9.5 does not match")


def test_stage_and_validate_exit_0_when_done_2_when_refused_1_when_storage_fails(
    azurite: Azurite, tmp_path: Path, closed_port: int
) -> None:
    container = new_container(BlobServiceClient.from_connection_string(azurite.connection_string))
    raw = tmp_path / NAME
    write_sparse_raw(raw, MIB, [(0, 4096)])
    env = {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string}

    staged = run_cli("stage", str(raw), "--container", container.container_name, env=env)
    assert staged.returncode == exit_codes.OK, staged.stderr
    blob_url = json.loads(staged.stdout)["blob_url"]
    assert run_cli("validate-vhd", blob_url, env=env).returncode == exit_codes.OK

    assert_refused(
        run_cli("stage", str(raw), "--container", "no-such-container", env=env), "stage", "does not exist"
    )
    absent = f"{container.url}/absent.vhd"
    assert_refused(run_cli("validate-vhd", absent, env=env), "validate-vhd", "does not exist")

    # 501 is a server failure the storage SDK does not retry: the first answer is the last.
    with scripted_server(lambda path: Answer(501)) as broken:
        endpoint = broken.url("127.0.0.1", "")
        failed = run_cli("stage", str(raw), "--container", "c", env=storage_at(endpoint))
    assert_failed(failed, "stage", "Azure Storage failed")
    unreachable = f"http://127.0.0.1:{closed_port}"
    failed = run_cli("validate-vhd", f"{unreachable}/{ACCOUNT_NAME}/c/x.vhd", env=storage_at(unreachable))
    assert_failed(failed, "validate-vhd", "Azure Storage failed")


def test_versions_exits_0_when_done_2_when_refused_1_when_the_gallery_is_unreachable(
    closed_port: int,
) -> None:
    with running_emulator(FAST) as emulator:
        env = local_gallery(emulator.base_url)
        listed = run_cli("versions", "almalinux-9-gen2", env=env)
        assert listed.returncode == exit_codes.OK, listed.stderr
        assert "has no versions" in listed.stdout
        assert_refused(run_cli("versions", "almalinux-99-gen2", env=env), "gallery-publisher versions", "99")
    assert_refused(
        run_cli("versions", "almalinux-9-gen2", env={**env, "GALLERY_PUBLISHER_REPLICATION_MODE": "Partial"}),
        "gallery-publisher versions",
        "GALLERY_PUBLISHER_REPLICATION_MODE",
    )
    unreachable = run_cli(
        "versions", "almalinux-9-gen2", env=local_gallery(f"http://127.0.0.1:{closed_port}")
    )
    assert_failed(unreachable, "gallery-publisher versions", "listing the versions")


def _submit(function_url: str, *more: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "submit", f"https://x/{NAME}", "--function-url", function_url, "--poll-interval", "0.05", *more
    )


def test_submit_exits_0_when_the_job_succeeds_2_when_refused_1_when_the_app_fails() -> None:
    accepted = Answer(202, JSON, json.dumps({"instance_id": "gp-1"}).encode())
    done = {"instance_id": "gp-1", "runtime_status": "Completed", "output": {"outcome": "dry_run"}}
    with scripted_server(
        lambda path: Answer(200, JSON, json.dumps(done).encode()), answer_post=lambda *_: accepted
    ) as app:
        assert _submit(app.url("127.0.0.1", "")).returncode == exit_codes.OK
    refusal = Answer(400, JSON, json.dumps({"error": "unknown field(s) colour"}).encode())
    with scripted_server(lambda path: Answer(404), answer_post=lambda *_: refusal) as app:
        assert_refused(
            _submit(app.url("127.0.0.1", "")), "error", "the job was refused: unknown field(s) colour"
        )
    assert_refused(_submit("app.example"), "error", "MissingSchema")  # no scheme: not a usable URL
    with scripted_server(lambda path: Answer(503), answer_post=lambda *_: Answer(503)) as app:
        assert_failed(_submit(app.url("127.0.0.1", ""), "--give-up-after", "0.2"), "error", "gave up")


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (PublishError("refused"), exit_codes.REFUSED),
        (SettingsError("bad setting"), exit_codes.REFUSED),
        (GalleryError("no such definition"), exit_codes.REFUSED),
        (SubmitError("the job was refused: x"), exit_codes.REFUSED),
        (ServiceUnavailableError("down"), exit_codes.FAILED),
        (GalleryRetryableError("throttled", 30), exit_codes.FAILED),
        (GaveUp("the app answered 503; gave up", None), exit_codes.FAILED),
        (HttpResponseError("InternalError"), exit_codes.FAILED),
        (ServiceRequestError("connection refused"), exit_codes.FAILED),
        (requests.ConnectionError(), exit_codes.FAILED),
        (requests.exceptions.MissingSchema(), exit_codes.REFUSED),
        (requests.exceptions.InvalidURL(), exit_codes.REFUSED),
    ],
)
def test_each_error_family_has_its_exit_status(error: Exception, status: int) -> None:
    assert (exit_status_and_message(error) or (None,))[0] == status


def test_an_azure_failure_never_prints_a_signature() -> None:
    error = HttpResponseError("https://a.blob.core.windows.net/c/b.vhd?sv=1&sig=s3cr3t failed\nsecond line")
    status, message = exit_status_and_message(error) or (None, "")
    assert status == exit_codes.FAILED
    assert (
        message.startswith("Azure Storage failed: ") and "s3cr3t" not in message and "second" not in message
    )


def test_an_error_of_no_family_is_a_bug_and_is_not_hidden() -> None:
    assert exit_status_and_message(KeyError("x")) is None


def test_the_readme_lists_the_exit_statuses_of_exit_codes() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Errors and what to do", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d) \| (\w+): ", section, re.MULTILINE)
    promised = {name: value for name, value in vars(exit_codes).items() if name.isupper()}
    assert {word.upper(): int(status) for status, word in rows} == promised
