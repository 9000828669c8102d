"""The fixed-disk VHD footer: build one as qemu-img does, read and check one.

A fixed VHD is the raw disk bytes followed by this 512-byte footer. Azure wants the disk
size to be a whole number of MiB, so a blob is N MiB + 512 bytes.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

# Azure's unit for a disk's size: vhd.MIB stays the name the footer's callers use.
from gallery_publisher.units import MIB as MIB

FOOTER_SIZE = 512
COOKIE = b"conectix"
FIXED_DISK = 2
DYNAMIC_DISK = 3
# The values qemu-img writes for `-O vpc -o subformat=fixed,force_size`; matching them keeps our
# VHDs byte-identical to the reference converter's (timestamp and UUID aside).
CREATOR_APP = b"qem2"
CREATOR_VERSION = 0x00050003
CREATOR_HOST_OS = b"Wi2k"
GEOMETRY = (65535, 16, 255)
VHD_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

_LAYOUT = struct.Struct(">8sIIQI4sI4sQQHBBII16sB427s")
_CHECKSUM_OFFSET = 64


class VhdFooterError(ValueError):
    """A footer that is not a valid fixed-disk VHD footer."""


@dataclass(frozen=True)
class VhdFooter:
    disk_size: int
    original_size: int
    disk_type: int
    timestamp: int
    unique_id: uuid.UUID
    creator_app: bytes


def padded_disk_size(raw_size: int) -> int:
    """The disk size Azure accepts: the raw size rounded up to a whole MiB."""
    return -(-raw_size // MIB) * MIB


def _checksum(footer: bytes) -> int:
    total = sum(footer[:_CHECKSUM_OFFSET]) + sum(footer[_CHECKSUM_OFFSET + 4 :])
    return ~total & 0xFFFFFFFF


def build_footer(
    disk_size: int, *, timestamp: int | None = None, unique_id: uuid.UUID | None = None
) -> bytes:
    """The footer of a fixed VHD whose disk (data before the footer) is `disk_size` bytes."""
    if disk_size < 512 or disk_size % 512:
        raise ValueError(f"a VHD disk size must be a positive multiple of 512 bytes, not {disk_size}")
    if timestamp is None:
        timestamp = int((datetime.now(UTC) - VHD_EPOCH).total_seconds())
    unique_id = unique_id or uuid.uuid4()
    cylinders, heads, sectors = GEOMETRY
    unsigned = _LAYOUT.pack(
        COOKIE,
        2,  # features: reserved bit always set
        0x00010000,  # file format version 1.0
        0xFFFFFFFFFFFFFFFF,  # data offset: none for a fixed disk
        timestamp & 0xFFFFFFFF,
        CREATOR_APP,
        CREATOR_VERSION,
        CREATOR_HOST_OS,
        disk_size,
        disk_size,
        cylinders,
        heads,
        sectors,
        FIXED_DISK,
        0,  # equivalent mutant: the checksum's place, left out of the sum and overwritten below
        unique_id.bytes,
        0,  # saved state: none
        b"",  # reserved: struct pads it with zero bytes
    )
    checksum = _checksum(unsigned)
    return unsigned[:_CHECKSUM_OFFSET] + struct.pack(">I", checksum) + unsigned[_CHECKSUM_OFFSET + 4 :]


def is_dynamic_footer(footer: bytes) -> bool:
    """Whether a VHD's last 512 bytes are a valid footer of a dynamic disk (its data is elsewhere in
    the file, behind a block table: Azure cannot use it, a fixed copy can be made)."""
    if len(footer) != FOOTER_SIZE or not footer.startswith(COOKIE):
        return False
    fields = _LAYOUT.unpack(footer)
    disk_type: int = fields[13]
    checksum: int = fields[14]
    return disk_type == DYNAMIC_DISK and checksum == _checksum(footer)


def parse_footer(footer: bytes) -> VhdFooter:
    """Read a fixed-disk footer; raise VhdFooterError naming what is wrong."""
    if len(footer) != FOOTER_SIZE:
        raise VhdFooterError(f"a VHD footer is {FOOTER_SIZE} bytes, got {len(footer)}")
    fields = _LAYOUT.unpack(footer)
    cookie, original_size, current_size, disk_type, checksum = (
        fields[0],
        fields[8],
        fields[9],
        fields[13],
        fields[14],
    )
    if cookie != COOKIE:
        raise VhdFooterError(f"no VHD footer: the last 512 bytes start with {cookie!r}, not {COOKIE!r}")
    if checksum != _checksum(footer):
        raise VhdFooterError("the VHD footer checksum does not match its contents (corrupt footer)")
    if disk_type != FIXED_DISK:
        raise VhdFooterError(
            f"the VHD is not a fixed disk (disk type {disk_type}); Azure needs a fixed VHD: "
            "convert it with `qemu-img convert -O vpc -o subformat=fixed,force_size`"
        )
    return VhdFooter(
        disk_size=current_size,
        original_size=original_size,
        disk_type=disk_type,
        timestamp=fields[4],
        unique_id=uuid.UUID(bytes=fields[15]),
        creator_app=fields[5],
    )


def check_fixed_vhd(blob_size: int, footer: bytes) -> VhdFooter:
    """Check a whole VHD's size against its footer as Azure does: N MiB of disk + 512 bytes."""
    parsed = parse_footer(footer)
    disk_size = blob_size - FOOTER_SIZE
    # At least one MiB: a footer alone (or less) holds no disk to make an image of.
    if disk_size < MIB or disk_size % MIB:
        raise VhdFooterError(
            f"the VHD is {blob_size} bytes; Azure needs a whole number of MiB of disk (at least one) plus "
            "the 512-byte footer "
            f"(the nearest valid size is {padded_disk_size(max(disk_size, 1)) + FOOTER_SIZE})"
        )
    if parsed.disk_size != disk_size:
        raise VhdFooterError(
            f"the VHD footer says the disk is {parsed.disk_size} bytes but the blob holds {disk_size} "
            "bytes before the footer"
        )
    return parsed
