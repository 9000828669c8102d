"""Benchmark: one-pass staging against the old pipeline and against the MD5 floor, in one run.

A sparse RAW (default 8 GiB with 600 MiB of data in several regions) is served over HTTP by the
local source server; Azurite plays Blob Storage. Each run times
  (a) the old pipeline: curl to disk, qemu-img resize to the MiB, qemu-img convert to a fixed VHD,
      md5sum, `az storage blob upload --type page --content-md5 ... --validate-content`;
  (b) ours: `stage` from the same URL, in a child process whose peak RSS and disk writes are read;
  (c) the floor: MD5 of the same HTTP byte stream and nothing else.
Then ours alone at two image sizes (default 4 and 16 GiB) to show that memory does not grow.

    python -m bench.stage_vs_old_pipeline --az PATH/TO/az [--size-gib 8 --data-mib 600 --runs 3]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from azure.storage.blob import BlobServiceClient

from gallery_publisher import vhd
from gallery_publisher.source import open_source
from gallery_publisher.staging import stage_source
from local.azurite import run_azurite
from local.source_server import SourceServer

REPO = Path(__file__).resolve().parent.parent
MIB = vhd.MIB
GIB = 1024 * MIB
RAW_NAME = "AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw"
CONTAINER = "bench-vhds"


@dataclass(frozen=True)
class OursRun:
    seconds: float
    peak_rss_mib: float
    disk_write_bytes: int
    md5: str
    uploaded_bytes: int
    skipped_bytes: int


def make_sparse_raw(path: Path, size: int, data: int, regions: int) -> None:
    """A sparse file with `data` bytes of incompressible data in `regions` spread-out regions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    per_region = data // regions
    block = os.urandom(MIB)
    with path.open("wb") as out:
        out.truncate(size)
        for region in range(regions):
            # Regions start at odd offsets so chunks are partly data, as in a real filesystem.
            out.seek(region * (size // regions) + 3 * 512)
            for written in range(0, per_region, MIB):
                out.write(hashlib.md5(block + written.to_bytes(8, "big")).digest() * (MIB // 16))


def timed(action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def run(args: list[str | Path], **kwargs: object) -> None:
    subprocess.run([str(a) for a in args], check=True, **kwargs)  # type: ignore[call-overload]


def old_pipeline(url: str, work: Path, az: Path, connection_string: str, name: str) -> float:
    """The shell script's steps, as it runs them."""
    raw, out = work / "download.raw", work / "converted.vhd"
    env = {**os.environ, "AZURE_CORE_COLLECT_TELEMETRY": "no", "AZURE_CONFIG_DIR": str(work / "az-config")}

    def steps() -> None:
        run(["curl", "-sSf", "-o", raw, url])
        padded = vhd.padded_disk_size(raw.stat().st_size)
        run(["qemu-img", "resize", "-f", "raw", raw, str(padded)], stdout=subprocess.DEVNULL)
        run(["qemu-img", "convert", "-f", "raw", "-o", "subformat=fixed,force_size", "-O", "vpc", raw, out])
        md5sum = subprocess.run(["md5sum", out], check=True, capture_output=True, text=True)
        md5_b64 = base64.b64encode(bytes.fromhex(md5sum.stdout.split()[0])).decode()
        run(
            [az, "storage", "blob", "upload", "--connection-string", connection_string, "-c", CONTAINER,
             "-f", out, "-n", name, "--type", "page", "--content-md5", md5_b64, "--validate-content",
             "--overwrite", "--only-show-errors", "--no-progress"],
            env=env, stdout=subprocess.DEVNULL,
        )  # fmt: skip

    try:
        return timed(steps)
    finally:
        raw.unlink(missing_ok=True)
        out.unlink(missing_ok=True)


def md5_floor(url: str) -> float:
    """MD5 of the HTTP byte stream alone: the least any whole-image checksum can cost."""
    parts = urlsplit(url)
    digest = hashlib.md5()
    buffer = memoryview(bytearray(4 * MIB))

    def read() -> None:
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port)
        connection.request("GET", parts.path)
        response = connection.getresponse()
        while count := response.readinto(buffer):
            digest.update(buffer[:count])
        connection.close()

    return timed(read)


def ours(url: str, connection_string: str, name: str) -> OursRun:
    """Stage in a child process, so its peak RSS and disk writes are ours alone."""
    child = subprocess.run(
        [sys.executable, "-m", "bench.stage_vs_old_pipeline", "--child-stage", url, name],
        check=True, capture_output=True, text=True, cwd=REPO,
        env={**os.environ, "AZURE_STORAGE_CONNECTION_STRING": connection_string},
    )  # fmt: skip
    return OursRun(**json.loads(child.stdout.strip().splitlines()[-1]))


def child_stage(url: str, name: str) -> None:
    service = BlobServiceClient.from_connection_string(os.environ["AZURE_STORAGE_CONNECTION_STRING"])
    started = time.monotonic()
    with open_source(url) as source:
        result = stage_source(source, service.get_container_client(CONTAINER).get_blob_client(name))
    seconds = time.monotonic() - started
    io = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    run_record = OursRun(
        seconds=seconds,
        peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        disk_write_bytes=int(io["write_bytes"]),
        md5=result.md5,
        uploaded_bytes=result.uploaded_bytes,
        skipped_bytes=result.skipped_bytes,
    )
    print(json.dumps(asdict(run_record)))


def benchmark(options: argparse.Namespace) -> dict[str, object]:
    work: Path = options.workdir
    shutil.rmtree(work, ignore_errors=True)
    served = work / "served"
    raw = served / "almalinux-images" / RAW_NAME
    print(f"generating a {options.size_gib} GiB sparse RAW with {options.data_mib} MiB of data", flush=True)
    make_sparse_raw(raw, options.size_gib * GIB, options.data_mib * MIB, options.regions)
    results: dict[str, object] = {"size_gib": options.size_gib, "data_mib": options.data_mib}
    try:
        with run_azurite(work / "azurite") as azurite, SourceServer(served) as server:
            service = BlobServiceClient.from_connection_string(azurite.connection_string)
            container = service.create_container(CONTAINER)
            url = server.url_for(f"almalinux-images/{RAW_NAME}")
            # The first read of a new sparse file fills the page cache and is much slower than the
            # next ones; read it once untimed so that no contender pays for it.
            md5_floor(url)
            old_times, our_runs, floor_times = [], [], []
            for index in range(options.runs):
                floor_seconds = md5_floor(url)
                floor_times.append(floor_seconds)
                print(f"run {index + 1}: floor {floor_seconds:.1f} s", flush=True)
                our_run = ours(url, azurite.connection_string, f"ours-{index}.vhd")
                our_runs.append(our_run)
                container.delete_blob(f"ours-{index}.vhd")
                print(f"run {index + 1}: ours {our_run.seconds:.1f} s", flush=True)
                if not options.skip_old:
                    old_seconds = old_pipeline(
                        url, work, options.az, azurite.connection_string, f"old-{index}.vhd"
                    )
                    old_times.append(old_seconds)
                    container.delete_blob(f"old-{index}.vhd")
                    print(f"run {index + 1}: old {old_seconds:.1f} s", flush=True)
            ours_median = statistics.median(r.seconds for r in our_runs)
            floor_median = statistics.median(floor_times)
            results |= {
                "floor_seconds": floor_times,
                "ours_seconds": [r.seconds for r in our_runs],
                "old_seconds": old_times,
                "ours_median": ours_median,
                "floor_median": floor_median,
                "ours_over_floor": ours_median / floor_median,
                "ours_peak_rss_mib": max(r.peak_rss_mib for r in our_runs),
                "ours_disk_write_bytes": max(r.disk_write_bytes for r in our_runs),
                "ours_uploaded_bytes": our_runs[0].uploaded_bytes,
            }
            if old_times:
                results["old_median"] = statistics.median(old_times)
                results["old_over_ours"] = statistics.median(old_times) / ours_median
            results["memory_by_size"] = memory_by_size(options, served, server, azurite.connection_string)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


def memory_by_size(
    options: argparse.Namespace, served: Path, server: SourceServer, connection_string: str
) -> dict[str, float]:
    """Our peak RSS staging images of different sizes with the same data: it must not grow."""
    peaks = {}
    for size_gib in options.memory_sizes:
        path = served / "memory" / f"{size_gib}.raw"
        make_sparse_raw(path, size_gib * GIB, options.data_mib * MIB, options.regions)
        url = server.url_for(f"memory/{size_gib}.raw")
        md5_floor(url)  # page cache warm, as above
        peak = ours(url, connection_string, f"m{size_gib}.vhd").peak_rss_mib
        peaks[f"{size_gib} GiB"] = peak
        path.unlink()
        print(f"memory at {size_gib} GiB: {peak:.0f} MiB", flush=True)
    return peaks


def report(results: dict[str, object]) -> str:
    lines = [f"sparse RAW {results['size_gib']} GiB with {results['data_mib']} MiB of data; medians:"]
    lines.append(f"  MD5 floor  {results['floor_median']:.1f} s")
    lines.append(f"  ours       {results['ours_median']:.1f} s  ours/floor {results['ours_over_floor']:.2f}x")
    if "old_median" in results:
        lines.append(f"  old        {results['old_median']:.1f} s  old/ours {results['old_over_ours']:.2f}x")
    lines.append(f"  our peak RSS {results['ours_peak_rss_mib']:.0f} MiB; bytes we wrote to disk: "
                 f"{results['ours_disk_write_bytes']}")  # fmt: skip
    memory = results["memory_by_size"]
    assert isinstance(memory, dict)
    lines.append("  our peak RSS by image size: " + ", ".join(f"{k}: {v:.0f} MiB" for k, v in memory.items()))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--az", type=Path, help="the az command of an azure-cli venv (for the old pipeline)")
    parser.add_argument("--size-gib", type=int, default=8)
    parser.add_argument("--data-mib", type=int, default=600)
    parser.add_argument("--regions", type=int, default=6)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--memory-sizes", type=int, nargs="*", default=[4, 16], help="GiB")
    parser.add_argument("--skip-old", action="store_true", help="leave out the old pipeline")
    parser.add_argument("--workdir", type=Path, default=REPO / ".local-stack" / "bench")
    parser.add_argument("--child-stage", nargs=2, metavar=("URL", "NAME"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child_stage:
        child_stage(*options.child_stage)
        return
    if not options.skip_old and options.az is None:
        parser.error("--az is needed for the old pipeline (or pass --skip-old)")
    results = benchmark(options)
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "stage_vs_old_pipeline.json").write_text(json.dumps(results, indent=2))
    print(report(results))


if __name__ == "__main__":
    main()
