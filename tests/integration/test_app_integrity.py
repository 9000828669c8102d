"""The app on the local stack: the RAW checked against its published .sha256sum, and a source that
redirects to an internal address refused where the bytes are read."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from activities.services import app_services
from local.stack import LocalStack, StackOptions, local_stack
from tests.support.app_support import blob_md5, put_raw, run_job
from tests.support.scripted_server import Answer, scripted_server


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with local_stack(StackOptions(workdir=tmp_path_factory.mktemp("integrity"), time_scale=0.002)) as running:
        yield running


def publish_sha256sum(stack: LocalStack, file_name: str, digest: str) -> None:
    stack.raw_path(f"{file_name}.sha256sum").write_text(f"{digest}  {file_name}\n")


def versions_of(definition: str) -> list[str]:
    return [v.name for v in app_services().gallery.list_versions("almalinux_ci", definition)]


def test_a_source_matching_its_sha256sum_is_published_as_verified(stack: LocalStack) -> None:
    name = "AlmaLinux-9-Azure-9.6-20250701.0.aarch64.raw"
    url = put_raw(stack, name)
    digest = hashlib.sha256(stack.raw_path(name).read_bytes()).hexdigest()
    publish_sha256sum(stack, name, digest)
    status = run_job(stack, {"image_url": url, "dry_run": False})
    assert status["runtime_status"] == "Completed", status["summary"]
    staged = status["output"]["staged"]
    assert (staged["source_sha256"], staged["source_verified"]) == (digest, True)
    assert f"- Source verified: ✅ SHA-256 `{digest}` matches the published .sha256sum" in status["summary"]


def test_a_source_without_sha256sum_is_published_as_not_verified(stack: LocalStack) -> None:
    url = put_raw(stack, "AlmaLinux-9-Azure-9.6-20250702.0.aarch64.raw")
    status = run_job(stack, {"image_url": url, "dry_run": False})
    assert status["runtime_status"] == "Completed", status["summary"]
    assert status["output"]["staged"]["source_verified"] is False
    assert "- Source verified: ❌ `no .sha256sum published (HTTP 404" in status["summary"]


def test_a_source_not_matching_its_sha256sum_fails_at_stage_and_publishes_nothing(stack: LocalStack) -> None:
    name = "AlmaLinux-9-Azure-9.6-20250703.0.aarch64.raw"
    url = put_raw(stack, name)
    actual = hashlib.sha256(stack.raw_path(name).read_bytes()).hexdigest()
    published = hashlib.sha256(b"another image").hexdigest()
    publish_sha256sum(stack, name, published)
    status = run_job(stack, {"image_url": url, "dry_run": False})
    assert status["runtime_status"] == "Failed"
    output = status["output"]
    assert output["failed_step"] == "stage"
    assert actual in output["error_message"] and published in output["error_message"]
    assert "Failed at step **stage**" in status["summary"]
    # The blob is there but visibly unfinished, and no version was made from it.
    _, content_md5 = blob_md5(stack.blobs, output["plan"]["blob_url"])
    assert content_md5 == ""
    assert "9.6.2025070301" not in versions_of("almalinux-9-arm64")


def test_a_source_redirecting_to_the_metadata_service_fails_at_stage_and_writes_nothing(
    stack: LocalStack,
) -> None:
    name = "AlmaLinux-9-Azure-9.6-20250704.0.aarch64.raw"

    def answer(path: str) -> Answer:
        if path.endswith(".raw"):
            return Answer(
                302, {"Location": "http://169.254.169.254/metadata/instance?api-version=2021-02-01"}
            )
        return Answer(404)

    with scripted_server(answer) as server:
        status = run_job(stack, {"image_url": server.url("127.0.0.1", f"/b/{name}"), "dry_run": False})
    assert status["runtime_status"] == "Failed"
    output = status["output"]
    assert output["failed_step"] == "stage"
    assert (
        "redirects to http://169.254.169.254/metadata/instance, which is refused" in output["error_message"]
    )
    assert "api-version" not in output["error_message"]
    container = stack.blobs.get_container_client(output["plan"]["container"])
    assert not container.get_blob_client(output["plan"]["blob_name"]).exists()
    assert [a.path for a in server.arrivals] == [f"/b/{name}.sha256sum", f"/b/{name}"]
