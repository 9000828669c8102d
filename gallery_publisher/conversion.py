"""Converting a disk image to RAW with qemu-img on local disk, for the formats that cannot be streamed.

qcow2, VMDK, VHDX and dynamic VHD keep their blocks in an order of their own (a table, then the
data), so they are read whole from a local file. qemu-img is the reference converter Azure's own
documentation uses. The input is someone else's file: its format is named (`-f`, never probed)
and an image that points at other files (a backing file, an external data file) is refused,
so a conversion reads nothing but the file it was given.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, ClassVar

from gallery_publisher.errors import PublishError
from gallery_publisher.units import GIB

QEMU_IMG = "qemu-img"
# Left free after a conversion: the instance's own logs and the runtime need room too.
DISK_RESERVE = GIB // 2


class ConversionError(PublishError):
    """A conversion was refused or failed; the message names the problem and the fix."""

    code: ClassVar[str] = "Conversion"


def check_free_disk(directory: Path, needed: int, what: str) -> None:
    """Refuse, before writing a byte, a step that would fill the local disk."""
    free = shutil.disk_usage(directory).free
    if free < needed + DISK_RESERVE:
        raise ConversionError(
            f"{what} needs {needed / GIB:.1f} GiB of local disk in {directory} (plus {DISK_RESERVE / GIB:.1f} "
            f"GiB kept free), but only {free / GIB:.1f} GiB is free; free space there, point TMPDIR at a "
            "bigger disk, or publish the image as RAW (streamed, no local disk needed)"
        )


def virtual_size(image: Path, disk_format: str) -> int:
    """The disk size qemu-img reads from the image's header, after refusing references to other files."""
    info = _json(_run([QEMU_IMG, "info", "--output=json", "-f", disk_format, str(image)], "read"))
    if info.get("backing-filename") or info.get("full-backing-filename"):
        raise ConversionError(
            f"the {disk_format} image has a backing file ({info.get('backing-filename')}); publish a "
            f"standalone image (`qemu-img convert -O {disk_format}` merges the chain)"
        )
    specific = info.get("format-specific", {}).get("data", {})
    if isinstance(specific, dict) and specific.get("data-file"):
        raise ConversionError(
            f"the {disk_format} image keeps its data in an external file; publish a standalone image"
        )
    size = info.get("virtual-size")
    if not isinstance(size, int) or size <= 0:
        raise ConversionError(f"qemu-img reports no usable disk size for the {disk_format} image ({size!r})")
    return size


def convert_to_raw(image: Path, disk_format: str, output: Path) -> int:
    """Write `image` as a sparse RAW file `output`; return its size. Checks free disk first."""
    size = virtual_size(image, disk_format)
    # qemu-img writes RAW sparse, but the file system may not keep holes: count the whole disk.
    check_free_disk(output.parent, size, f"converting the {disk_format} image to RAW ({size} bytes)")
    _run([QEMU_IMG, "convert", "-f", disk_format, "-O", "raw", str(image), str(output)], "convert")
    return size


def _run(command: list[str], action: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise ConversionError(
            f"{QEMU_IMG} is not installed, so this image cannot be converted; install qemu-utils "
            "(the app's container has it) or publish the image as RAW"
        ) from None
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise ConversionError(f"{QEMU_IMG} could not {action} the image: {reason}")
    return done.stdout


def _json(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ConversionError(f"{QEMU_IMG} info gave no JSON object")
    return value
