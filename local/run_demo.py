"""`make run`: start the local stack, publish a sample AlmaLinux image through the HTTP API exactly as
the release workflow does, show its progress and summary, then stay up for exploring (Ctrl-C stops
everything) or, with --once, exit with the job's status.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path

from gallery_publisher.units import MIB
from local.durable_runner.host_keys import FUNCTION_KEY_VARIABLE
from local.durable_runner.worker import FunctionLoadError
from local.sample_image import build_sample_raw
from local.stack import LocalStack, StackOptions, local_stack

REPO = Path(__file__).resolve().parent.parent


def sample_name(today: date) -> str:
    return f"AlmaLinux-9-Azure-9.6-{today:%Y%m%d}.0.x86_64.raw"


def publish_sha256sum(raw: Path) -> str:
    """Write `<raw>.sha256sum` in `sha256sum`'s format, so the job verifies its source."""
    digest = hashlib.sha256()
    with raw.open("rb") as image:
        while block := image.read(8 * MIB):
            digest.update(block)
    raw.with_name(raw.name + ".sha256sum").write_text(f"{digest.hexdigest()}  {raw.name}\n")
    return digest.hexdigest()


def submit(stack: LocalStack, image_url: str) -> int:
    """Run the release workflow's own client against the local host, with the host's function key."""
    command = [
        sys.executable, "-m", "gallery_publisher", "submit", image_url, "--raw", "--no-dry-run",
        "--function-url", stack.runner.origin, "--poll-interval", "0.5",
    ]  # fmt: skip
    print(
        f"$ GALLERY_PUBLISHER_FUNCTION_KEY=… gallery-publisher submit {image_url} --raw --no-dry-run "
        f"--function-url {stack.runner.origin}",
        flush=True,
    )
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    env[FUNCTION_KEY_VARIABLE] = stack.runner.keys.function_key
    return subprocess.run(command, env=env, check=False).returncode


def key_notice(stack: LocalStack) -> str:
    """The key `submit` and curl need (authLevel function, as in Azure); a key of your own is not echoed."""
    if os.environ.get(FUNCTION_KEY_VARIABLE):
        return f"The app's function key is the one in {FUNCTION_KEY_VARIABLE}."
    return (
        f"The app's function key for this run (random; set {FUNCTION_KEY_VARIABLE} to choose it):\n"
        f"  export {FUNCTION_KEY_VARIABLE}={stack.runner.keys.function_key}"
    )


def job_page_url(stack: LocalStack) -> str:
    """The job page; with the run's random key in `code` (the page sends it on as x-functions-key)."""
    url = f"{stack.runner.origin}/api/jobs"
    return url if os.environ.get(FUNCTION_KEY_VARIABLE) else f"{url}?code={stack.runner.keys.function_key}"


def explore_hints(stack: LocalStack) -> str:
    return "\n".join(
        [
            "",
            "The stack stays up for exploring (Ctrl-C stops everything):",
            f"  app (same routes as Azure):  {stack.runner.origin}/api/publish",
            f"  job page:                    {job_page_url(stack)}",
            f"  gallery emulator (ARM):      {stack.emulator.base_url}",
            f"  RAW source server:           {stack.source.base_url}",
            f"  Azurite blob endpoint:       {stack.azurite.blob_endpoint}",
            "Try:",
            f'  curl -s -H "x-functions-key: ${FUNCTION_KEY_VARIABLE}" {stack.runner.origin}/api/publish -d \'{{"image_url": "{stack.raw_url("AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw")}"}}\'',
            f"  GALLERY_PUBLISHER_LOCAL_MODE=true GALLERY_PUBLISHER_ARM_ENDPOINT={stack.emulator.base_url} "
            "gallery-publisher versions almalinux-9-gen2",
            "  drop a .vhd into a VHD container (e.g. 9-default) of Azurite: a dry-run job starts, as Event Grid does.",
        ]
    )


def run(
    workdir: Path,
    *,
    once: bool,
    port: int = 7071,
    time_scale: float = 0.01,
    disk_mib: int = 512,
    on_done: Callable[[LocalStack, int], None] | None = None,
) -> int:
    shutil.rmtree(workdir, ignore_errors=True)
    options = StackOptions(workdir=workdir, time_scale=time_scale, port=port, watch_blobs=True)
    print(f"Starting the local stack (Azurite, gallery emulator at 1/{round(1 / time_scale)} of Azure's pace, "
          "RAW source server, the app on the durable runner)…", flush=True)  # fmt: skip
    with local_stack(options) as stack:
        name = sample_name(date.today())
        raw = build_sample_raw(stack.raw_path(name), disk_mib * MIB)
        digest = publish_sha256sum(raw)
        print(f"Built {name}: {disk_mib} MiB, MBR + ext4 with files, sparse; SHA-256 {digest} "
              f"published next to it as {name}.sha256sum, as the AlmaLinux build does.", flush=True)  # fmt: skip
        print(key_notice(stack), flush=True)
        print(f"Job page (follow the job in a browser): {job_page_url(stack)}", flush=True)
        code = submit(stack, stack.raw_url(name))
        if on_done:
            on_done(stack, code)
        if not once:
            print(explore_hints(stack), flush=True)
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                print("\nStopping the local stack…", flush=True)
    return code


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM both unwind the stack's context managers, so every process is stopped.
    (A shell that starts us in the background may have us ignore SIGINT: take it back.)"""
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


def main(argv: list[str] | None = None) -> int:
    _stop_on_signals()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--once", action="store_true", help="exit after the job with its status")
    parser.add_argument("--port", type=int, default=7071, help="the app's HTTP port (default 7071)")
    parser.add_argument("--time-scale", type=float, default=0.01, help="simulated Azure time per real second")
    parser.add_argument("--workdir", type=Path, default=REPO / ".local-stack" / "run")
    args = parser.parse_args(argv)
    try:
        return run(args.workdir, once=args.once, port=args.port, time_scale=args.time_scale)
    except FunctionLoadError as refused:
        # In Azure the host would load none of the app's functions.
        print(
            f"The Python worker refuses the app, so Azure would load no function: {refused}", file=sys.stderr
        )
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
