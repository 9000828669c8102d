"""The published `.sha256sum`: parsing, the lookup next to the image, and staging refusing a mismatch
(against the local source server and Azurite)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient

from gallery_publisher.planning.settings import load_settings
from gallery_publisher.source.checksum import (
    ChecksumError,
    PublishedChecksum,
    checksum_url,
    fetch_published_sha256,
    parse_sha256sum,
)
from gallery_publisher.source.pinned_http import GuardedClient
from gallery_publisher.source.policy import SourceGuard
from gallery_publisher.source.reader import RetryPolicy, open_source
from gallery_publisher.staging import storage
from gallery_publisher.staging.stager import StageResult, StagingError, stage_source
from local.azurite import Azurite
from local.source_server import Faults, SourceServer
from tests.support.raw_images import MIB, new_container, write_sparse_raw

NAME = "AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw"
DIGEST = "0123456789abcdef" * 4
FAST = RetryPolicy(attempts=3, first_backoff=0.01, stall_timeout=2)
GUARD = SourceGuard(load_settings({"GALLERY_PUBLISHER_LOCAL_MODE": "true"}))


@pytest.mark.parametrize(
    "text",
    [
        f"{DIGEST}  {NAME}\n",
        f"{DIGEST} *{NAME}\n",
        f"{DIGEST.upper()}  ./images/{NAME}\n",
        f"SHA256 ({NAME}) = {DIGEST}\n",
        f"SHA256({NAME})= {DIGEST}",
        f"# made by the build\n\n{DIGEST}  other-name.raw\n",  # one digest, another name
        f"{'f' * 64}  CHECKSUM\n{DIGEST}  {NAME}\n{'e' * 64}  {NAME}.sig\n",
    ],
)
def test_both_line_styles_are_read(text: str) -> None:
    assert parse_sha256sum(text, NAME) == DIGEST


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a checksum\n",
        f"{DIGEST[:-1]}  {NAME}\n",
        f"MD5 ({NAME}) = {'0' * 32}\n",
        f"{'f' * 64}  a.raw\n{'e' * 64}  b.raw\n",  # two digests, neither for the image
        f"{'f' * 64}  {NAME}\n{'e' * 64}  {NAME}\n",  # two different digests for it
    ],
)
def test_unusable_checksum_files_are_refused(text: str) -> None:
    with pytest.raises(ChecksumError, match="sha256sum"):
        parse_sha256sum(text, NAME)


def test_the_lookup_keeps_the_query_string() -> None:
    signed = f"https://b.s3.amazonaws.com/dir/{NAME}?X-Amz-Signature=s#frag"
    assert checksum_url(signed) == f"https://b.s3.amazonaws.com/dir/{NAME}.sha256sum?X-Amz-Signature=s"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[SourceServer, Path, bytes]]:
    bucket = tmp_path / "served" / "bucket"
    bucket.mkdir(parents=True)
    raw = write_sparse_raw(bucket / NAME, 9 * MIB + 1024, [(0, MIB), (5 * MIB, 4096), (9 * MIB, 1024)])
    with SourceServer(tmp_path / "served") as server:
        yield server, bucket, raw


def fetch(server: SourceServer, query: str = "") -> PublishedChecksum:
    client = GuardedClient(GUARD)
    try:
        return fetch_published_sha256(server.url_for(f"bucket/{NAME}") + query, client, FAST, lambda s: None)
    finally:
        client.close()


def test_a_published_checksum_is_found_with_the_image_query(served: tuple[SourceServer, Path, bytes]) -> None:
    server, bucket, raw = served
    (bucket / f"{NAME}.sha256sum").write_text(f"SHA256 ({NAME}) = {hashlib.sha256(raw).hexdigest()}\n")
    found = fetch(server, "?X-Amz-Signature=s3cr3t")
    assert found.sha256 == hashlib.sha256(raw).hexdigest()
    assert [r.path for r in server.requests] == [f"/bucket/{NAME}.sha256sum?X-Amz-Signature=s3cr3t"]
    assert "s3cr3t" not in found.note


def test_no_checksum_file_means_unverified(served: tuple[SourceServer, Path, bytes]) -> None:
    server, _, _ = served
    absent = fetch(server)
    assert absent.sha256 is None
    assert absent.note.startswith("no .sha256sum published (HTTP 404")


def test_a_failing_checksum_server_is_retried_then_refused(served: tuple[SourceServer, Path, bytes]) -> None:
    server, bucket, _ = served
    (bucket / f"{NAME}.sha256sum").write_text(f"{DIGEST}  {NAME}\n")
    server.set_faults(Faults(server_errors=2))
    assert fetch(server).sha256 == DIGEST
    server.set_faults(Faults(server_errors=10))
    with pytest.raises(ChecksumError, match="failed 3 times"):
        fetch(server)


def test_an_oversized_checksum_file_is_refused(served: tuple[SourceServer, Path, bytes]) -> None:
    server, bucket, _ = served
    (bucket / f"{NAME}.sha256sum").write_bytes(b"0" * (65 * 1024))
    with pytest.raises(ChecksumError, match="is over 65536 bytes"):
        fetch(server)


@pytest.fixture
def container(azurite: Azurite) -> ContainerClient:
    return new_container(BlobServiceClient.from_connection_string(azurite.connection_string))


def stage(server: SourceServer, container: ContainerClient, blob_name: str) -> StageResult:
    url = server.url_for(f"bucket/{NAME}")
    checksum = fetch(server)
    with open_source(url, guard=GUARD, policy=FAST) as source:
        return stage_source(source, container.get_blob_client(blob_name), checksum=checksum)


def test_a_matching_source_is_verified_and_recorded(
    served: tuple[SourceServer, Path, bytes], container: ContainerClient
) -> None:
    server, bucket, raw = served
    digest = hashlib.sha256(raw).hexdigest()
    (bucket / f"{NAME}.sha256sum").write_text(f"{digest}  {NAME}\n")
    result = stage(server, container, "ok.vhd")
    assert (result.source_sha256, result.source_verified) == (digest, True)
    state = storage.blob_state(container.get_blob_client("ok.vhd"))
    assert state is not None and state.complete and state.source_sha256 == digest
    again = stage(server, container, "ok.vhd")  # reused: verified from the recorded digest
    assert (again.reused, again.source_verified) == (True, True)


def test_a_mismatch_is_refused_and_the_blob_stays_incomplete(
    served: tuple[SourceServer, Path, bytes], container: ContainerClient
) -> None:
    server, bucket, raw = served
    actual = hashlib.sha256(raw).hexdigest()
    (bucket / f"{NAME}.sha256sum").write_text(f"{DIGEST}  {NAME}\n")
    with pytest.raises(StagingError) as refused:
        stage(server, container, "bad.vhd")
    assert actual in str(refused.value) and DIGEST in str(refused.value)
    state = storage.blob_state(container.get_blob_client("bad.vhd"))
    assert state is not None and not state.complete and state.md5 is None


def test_an_absent_checksum_stages_unverified(
    served: tuple[SourceServer, Path, bytes], container: ContainerClient
) -> None:
    server, _, raw = served
    result = stage(server, container, "plain.vhd")
    assert result.source_verified is False
    assert result.source_sha256 == hashlib.sha256(raw).hexdigest()
    assert result.source_check.startswith("no .sha256sum published")
