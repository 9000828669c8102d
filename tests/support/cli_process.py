"""The command line run as a user runs it: `python -m gallery_publisher …` in a child process, so the
exit status and the two streams are the ones a shell sees."""

from __future__ import annotations

import os
import subprocess
import sys


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Runs the CLI with `env` over this process's environment minus every GALLERY_PUBLISHER_ and
    AZURE_ variable, so a developer's shell settings never leak into what a test sees."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GALLERY_PUBLISHER_", "AZURE_"))}
    return subprocess.run(
        [sys.executable, "-m", "gallery_publisher", *args],
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        timeout=120,
        check=False,
    )
