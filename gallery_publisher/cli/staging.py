"""The `stage` and `validate-vhd` subcommands: argument set-up and the run of each.

The Azure SDKs are imported by the runs only, so that the CLI (and `submit`) load without them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from gallery_publisher.cli import exit_codes
from gallery_publisher.cli.command_errors import reports_errors
from gallery_publisher.planning.image_names import file_name_of
from gallery_publisher.planning.settings import load_settings
from gallery_publisher.urls import redact_url

if TYPE_CHECKING:
    from gallery_publisher.staging.stager import StageProgress


def add_stage_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source",
        help="disk image (RAW, .raw.xz/.zst/.gz, qcow2, VMDK, VHDX, dynamic VHD): "
        "an http(s) URL with Range support, or a local file",
    )
    parser.add_argument("--container", required=True, help="blob container to stage the VHD into")
    parser.add_argument("--name", help="blob name (default: the RAW file name with .raw replaced by .vhd)")


def add_validate_vhd_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("blob_url", help="URL of the VHD page blob to check")


# The suffixes of disk images the stager reads, longest first; the blob is named with .vhd instead.
IMAGE_SUFFIXES = (".raw.xz", ".raw.zst", ".raw.gz", ".raw", ".qcow2", ".vmdk", ".vhdx", ".vhd")


def default_blob_name(source: str) -> str:
    name = file_name_of(source)
    suffix = next((suffix for suffix in IMAGE_SUFFIXES if name.endswith(suffix)), "")
    return name[: len(name) - len(suffix)] + ".vhd"


@reports_errors("stage")
def run_stage(args: argparse.Namespace) -> int:
    # Imported here, not at start-up: only what staging needs (no ARM or identity SDK) is loaded.
    from gallery_publisher.source.reader import open_source
    from gallery_publisher.staging.stager import stage_source
    from gallery_publisher.staging.storage import StorageError, blob_service_client

    name = args.name or default_blob_name(args.source)
    settings = load_settings(os.environ)
    container = blob_service_client(settings).get_container_client(args.container)
    if not container.exists():
        raise StorageError(
            f"container {args.container!r} does not exist in {redact_url(container.url)}; create it first"
        )
    with open_source(args.source, converter=settings.converter) as source:
        result = stage_source(
            source, container.get_blob_client(name), progress=ProgressPrinter(sys.stderr, time.monotonic)
        )
    if result.reused:
        print(f"{result.blob_url} was already staged from this source; nothing to do", file=sys.stderr)
    summary = {
        "blob_url": result.blob_url,
        "md5": result.md5,
        "size": result.size,
        "uploaded_bytes": result.uploaded_bytes,
        "skipped_bytes": result.skipped_bytes,
        "seconds": round(result.seconds, 3),
    }
    print(json.dumps(summary))
    return exit_codes.OK


@reports_errors("validate-vhd")
def run_validate_vhd(args: argparse.Namespace) -> int:
    from gallery_publisher.staging.storage import blob_client_for_url
    from gallery_publisher.staging.vhd_blob import validate_vhd_blob

    checked = validate_vhd_blob(blob_client_for_url(args.blob_url, load_settings(os.environ)))
    summary = {
        "blob_url": checked.blob_url,
        "size": checked.size,
        "disk_size": checked.disk_size,
        "content_md5": checked.content_md5,
    }
    print(json.dumps(summary))
    return exit_codes.OK


class ProgressPrinter:
    """Prints staging progress at most once per `interval` seconds, and once at the end."""

    def __init__(self, stream: TextIO, clock: Callable[[], float], interval: float = 1.0) -> None:
        self._stream = stream
        self._clock = clock
        self._interval = interval
        self._started = clock()
        self._last = self._started

    def __call__(self, progress: StageProgress) -> None:
        now = self._clock()
        finished = progress.bytes_read >= progress.total_bytes
        if now - self._last < self._interval and not finished:
            return
        self._last = now
        elapsed = max(now - self._started, 1e-9)
        rate = progress.bytes_read / elapsed
        eta = (progress.total_bytes - progress.bytes_read) / rate if rate else float("inf")
        print(
            f"read {_size(progress.bytes_read)} of {_size(progress.total_bytes)}, "
            f"uploaded {_size(progress.bytes_uploaded)}, skipped {_size(progress.bytes_skipped)}, "
            f"{_size(int(rate))}/s, ETA {eta:.0f} s",
            file=self._stream,
            flush=True,
        )


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
