"""Converting a disk image to RAW with qemu-img on local disk, for the formats that cannot be streamed.

qcow2, VMDK, VHDX and dynamic VHD keep their blocks in an order of their own (a table, then the
data), so they are read whole from a local file. qemu-img is the reference converter Azure's own
documentation uses. The input is someone else's file: its format is named (`-f`, never probed)
and an image that points at other files (a backing file, an external data file) is refused,
so a conversion reads nothing but the file it was given. qemu-img itself runs within limits (address
space, CPU time, file size, a wall-clock timeout), so a hostile header cannot make it eat the
instance: it is killed and the image refused.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from gallery_publisher.errors import PublishError
from gallery_publisher.units import GIB

QEMU_IMG = "qemu-img"
# Left free after a conversion: the instance's own logs and the runtime need room too.
DISK_RESERVE = GIB // 2
MIB = 1024**2


@dataclass(frozen=True)
class Limits:
    """What one qemu-img run may use; past any of them it is killed and the image refused."""

    seconds: float  # wall clock, and CPU seconds too
    file_bytes: int  # the largest file it may write (0: none)
    address_space: int = 2 * GIB  # qemu-img needs ~0.5 GiB of it; a crafted header asks far more


INFO_LIMITS = Limits(seconds=60, file_bytes=0)
# A conversion writes the RAW at local disk speed; sparse images go much faster than this allows.
CONVERT_BASE_SECONDS = 600
CONVERT_BYTES_PER_SECOND = 16 * MIB


def convert_limits(size: int) -> Limits:
    return Limits(seconds=CONVERT_BASE_SECONDS + size / CONVERT_BYTES_PER_SECOND, file_bytes=size)


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
    info = _json(
        _run([QEMU_IMG, "info", "--output=json", "-f", disk_format, str(image)], "read", INFO_LIMITS)
    )
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
    if isinstance(specific, dict):
        _refuse_other_extents(image, disk_format, specific.get("extents"))
    size = info.get("virtual-size")
    if not isinstance(size, int) or size <= 0:
        raise ConversionError(f"qemu-img reports no usable disk size for the {disk_format} image ({size!r})")
    return size


def convert_to_raw(image: Path, disk_format: str, output: Path) -> int:
    """Write `image` as a sparse RAW file `output`; return its size. Checks free disk first."""
    size = virtual_size(image, disk_format)
    # qemu-img writes RAW sparse, but the file system may not keep holes: count the whole disk.
    check_free_disk(output.parent, size, f"converting the {disk_format} image to RAW ({size} bytes)")
    command = [QEMU_IMG, "convert", "-f", disk_format, "-O", "raw", str(image), str(output)]
    _run(command, "convert", convert_limits(size))
    return size


def _refuse_other_extents(image: Path, disk_format: str, extents: object) -> None:
    """A VMDK lists the files its data is in; a header can make a one-file VMDK list a host file
    (a flat extent at /etc/…), whose bytes would then be published. Only the image itself may be read."""
    if not isinstance(extents, list):
        return
    own = image.resolve()
    for extent in extents:
        name = extent.get("filename") if isinstance(extent, dict) else None
        if not isinstance(name, str) or (image.parent / name).resolve() != own:
            raise ConversionError(
                f"the {disk_format} image reads its data from another file ({name!r}); only a "
                "one-file image is converted: publish a monolithic or stream-optimized VMDK"
            )


def _run(command: list[str], action: str, limits: Limits) -> str:
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            timeout=limits.seconds,
            preexec_fn=_limiter(limits),
        )
    except FileNotFoundError:
        raise ConversionError(
            f"{QEMU_IMG} is not installed, so this image cannot be converted; install qemu-utils "
            "(the app's container has it) or publish the image as RAW"
        ) from None
    except subprocess.TimeoutExpired:
        raise ConversionError(
            f"{QEMU_IMG} did not {action} the image within {limits.seconds:.0f} s and was stopped; the image "
            "may be crafted to stall a converter: check it, or publish it as RAW"
        ) from None
    if done.returncode != 0:
        if done.returncode < 0:  # killed by a signal: a limit was hit (SIGXCPU, SIGXFSZ, SIGKILL, abort)
            reason = (
                f"it was stopped by signal {-done.returncode} on reaching its limits ({limits.seconds:.0f} s "
                f"of CPU, {limits.address_space // MIB} MiB of memory, {limits.file_bytes} bytes of output)"
            )
        else:
            reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise ConversionError(f"{QEMU_IMG} could not {action} the image: {reason}")
    return done.stdout


def _limiter(limits: Limits) -> Callable[[], None]:
    """Set the limits in the child, between fork and exec (setrlimit only: safe there)."""
    cpu = int(limits.seconds) + 1

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limits.address_space, limits.address_space))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return limit


def _json(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ConversionError(f"{QEMU_IMG} info gave no JSON object")
    return value
