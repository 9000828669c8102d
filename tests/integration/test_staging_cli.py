"""`stage SOURCE --container C [--name NAME]` against Azurite and the local source server."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from gallery_publisher.cli.staging import (
    ProgressPrinter,
    add_stage_arguments,
    default_blob_name,
    run_stage,
)
from gallery_publisher.staging.stager import StageProgress
from local.azurite import Azurite
from local.source_server import SourceServer
from tests.support.raw_images import MIB, new_container, write_sparse_raw

NAME = "AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw"


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    add_stage_arguments(parser)
    return run_stage(parser.parse_args(list(argv)))


def test_stage_prints_progress_and_a_json_summary(
    azurite: Azurite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    container = new_container(BlobServiceClient.from_connection_string(azurite.connection_string))
    (tmp_path / "images").mkdir()
    write_sparse_raw(tmp_path / "images" / NAME, 9 * MIB, [(0, MIB), (8 * MIB, 4096)])
    with SourceServer(tmp_path) as server:
        assert (
            run_cli(server.url_for(f"images/{NAME}") + "?sig=s3cr3t", "--container", container.container_name)
            == 0
        )
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    blob = container.get_blob_client(NAME.replace(".raw", ".vhd"))
    data = blob.download_blob().readall()
    assert summary["blob_url"] == blob.url
    assert summary["md5"] == hashlib.md5(data).hexdigest()
    assert summary["size"] == len(data) == 9 * MIB + 512
    # Chunks of 4 MiB: [0, 4) has data in its first MiB, [4, 8) is zeros, [8, 9) has data in its
    # first 4096 bytes; only those pages are written, then the footer.
    assert summary["uploaded_bytes"] == MIB + 4096 + 512
    assert summary["skipped_bytes"] == 9 * MIB - MIB - 4096
    assert set(summary) == {"blob_url", "md5", "size", "uploaded_bytes", "skipped_bytes", "seconds"}
    assert "read 9.0 MiB of 9.0 MiB" in captured.err and "ETA" in captured.err
    assert "s3cr3t" not in captured.out + captured.err


def test_stage_with_a_name_and_a_refusal(
    azurite: Azurite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    container = new_container(BlobServiceClient.from_connection_string(azurite.connection_string))
    raw = tmp_path / "disk.raw"
    write_sparse_raw(raw, MIB, [(0, 512)])
    assert run_cli(str(raw), "--container", container.container_name, "--name", "chosen.vhd") == 0
    assert container.get_blob_client("chosen.vhd").exists()

    capsys.readouterr()
    gz = tmp_path / "disk.raw.gz"
    gz.write_bytes(b"\x1f\x8b" + bytes(100))
    assert run_cli(str(gz), "--container", container.container_name) == 2
    assert "is not a valid gzip stream" in capsys.readouterr().err

    assert run_cli(str(raw), "--container", "no-such-container") == 2
    assert "does not exist" in capsys.readouterr().err


def test_default_name_swaps_raw_for_vhd() -> None:
    assert default_blob_name(f"https://h/b/{NAME}?x=1") == NAME.replace(".raw", ".vhd")


def test_progress_printer_throttles_and_reports_rate_and_eta() -> None:
    lines: list[str] = []

    class Stream:
        def write(self, text: str) -> None:
            lines.append(text)

        def flush(self) -> None:
            pass

    now = [0.0]
    printer = ProgressPrinter(Stream(), lambda: now[0])  # type: ignore[arg-type]
    now[0] = 0.5
    printer(StageProgress(100 * MIB, 0, 0, 400 * MIB))
    now[0] = 2.0
    printer(StageProgress(200 * MIB, 10 * MIB, 150 * MIB, 400 * MIB))
    text = "".join(lines)
    assert text.count("\n") == 1
    assert "read 200.0 MiB of 400.0 MiB, uploaded 10.0 MiB, skipped 150.0 MiB, 100.0 MiB/s, ETA 2 s" in text
