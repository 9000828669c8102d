"""A small but realistic sample RAW image: an MBR partition table and an ext4 filesystem with files.

Sparse on disk (only the filesystem's written blocks take space), named like a release so the
whole job treats it as the real thing. Needs mke2fs (e2fsprogs), which every Debian has.
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

from gallery_publisher.units import MIB

PARTITION_START = MIB  # the first partition at 1 MiB, as every modern installer does
SECTOR = 512


def mbr(disk_size: int) -> bytes:
    """A DOS partition table with one Linux partition from 1 MiB to the end of the disk."""
    first = PARTITION_START // SECTOR
    count = disk_size // SECTOR - first
    # status, CHS start (unused: LBA only), type 0x83 Linux, CHS end (unused), LBA start, sectors
    entry = struct.pack("<B3sB3sII", 0x80, b"\xfe\xff\xff", 0x83, b"\xfe\xff\xff", first, count)
    table = bytearray(SECTOR)
    table[440:444] = b"ALMA"  # disk signature
    table[446:462] = entry
    table[510:512] = b"\x55\xaa"
    return bytes(table)


def _populate(root: Path, release: str) -> None:
    (root / "etc").mkdir()
    (root / "etc" / "os-release").write_text(
        f'NAME="AlmaLinux"\nVERSION="{release}"\nID="almalinux"\nPRETTY_NAME="AlmaLinux {release} (sample)"\n'
    )
    (root / "boot").mkdir()
    # Incompressible data, as a kernel and initramfs would be: gives the stager real pages to write.
    (root / "boot" / "vmlinuz-sample").write_bytes(os.urandom(6 * MIB))
    (root / "boot" / "initramfs-sample.img").write_bytes(os.urandom(10 * MIB))
    (root / "usr" / "share" / "doc").mkdir(parents=True)
    (root / "usr" / "share" / "doc" / "README").write_text(
        "A sample image built by gallery-publisher's local stack.\n"
    )


def build_sample_raw(path: Path, disk_size: int = 512 * MIB, release: str = "9.6") -> Path:
    """Write the sample RAW at `path` (sparse) and return it."""
    if disk_size % MIB or disk_size < 64 * MIB:
        raise ValueError("the sample disk must be a whole number of MiB, at least 64 MiB")
    mke2fs = shutil.which("mke2fs") or "/usr/sbin/mke2fs"
    with path.open("wb") as disk:
        disk.truncate(disk_size)
        disk.write(mbr(disk_size))
    with tempfile.TemporaryDirectory() as staging:
        root = Path(staging)
        _populate(root, release)
        filesystem_kib = (disk_size - PARTITION_START) // 1024
        subprocess.run(
            [mke2fs, "-q", "-F", "-t", "ext4", "-L", "root", "-d", str(root),
             "-E", f"offset={PARTITION_START}", str(path), f"{filesystem_kib}k"],
            check=True,
        )  # fmt: skip
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the sample RAW image of the local stack.")
    parser.add_argument("path", type=Path)
    parser.add_argument("--size-mib", type=int, default=512)
    args = parser.parse_args()
    print(build_sample_raw(args.path, args.size_mib * MIB))


if __name__ == "__main__":
    main()
