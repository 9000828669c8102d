"""What a source holds, told from its first bytes, and the streaming decompression of RAW sources.

RAW is streamed as it is; a compressed RAW (xz, zstd, gzip) is decompressed in the same pass,
with memory bounded by the decompressor's window; qcow2, VMDK, VHDX and a dynamic VHD need
qemu-img (see `conversion`). The magic numbers are the formats' own (documented); the VHD rule
(a footer copy at offset 0 means a dynamic or differencing disk, since a fixed VHD has its footer
only at the end) is the VHD specification's.
"""

from __future__ import annotations

import gzip
import lzma
import struct
from collections.abc import Callable
from enum import StrEnum
from typing import IO, Protocol, cast

from gallery_publisher.errors import PublishError

PROBE_SIZE = 512  # enough for every magic below and a VHD footer copy at offset 0


class DiskFormat(StrEnum):
    RAW = "raw"
    XZ = "xz"
    ZSTD = "zstd"
    GZIP = "gzip"
    QCOW2 = "qcow2"
    VMDK = "vmdk"
    VHDX = "vhdx"
    VHD = "vpc"  # qemu-img's name for the VHD driver: a dynamic disk here


COMPRESSED = (DiskFormat.XZ, DiskFormat.ZSTD, DiskFormat.GZIP)
CONVERTED = (DiskFormat.QCOW2, DiskFormat.VMDK, DiskFormat.VHDX, DiskFormat.VHD)

_MAGIC: tuple[tuple[bytes, DiskFormat], ...] = (
    (b"\xfd7zXZ\x00", DiskFormat.XZ),
    (b"\x28\xb5\x2f\xfd", DiskFormat.ZSTD),
    (b"\x1f\x8b", DiskFormat.GZIP),
    (b"QFI\xfb", DiskFormat.QCOW2),
    (b"KDMV", DiskFormat.VMDK),  # a sparse or stream-optimized extent: the whole disk in one file
    (b"vhdxfile", DiskFormat.VHDX),
)
_VHD_COOKIE = b"conectix"
_VHD_DISK_TYPE = struct.Struct(">I")
_VHD_DIFFERENCING = 4


class FormatError(ValueError):
    """A source in a form that cannot be published; the message says what to do instead."""


def detect(head: bytes) -> DiskFormat:
    """The format of a source from its first bytes (up to PROBE_SIZE); RAW when nothing matches."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head.startswith(b"# Disk DescriptorFile"):
        raise FormatError(
            "is a VMDK descriptor, which points at its data in other files; convert it to one file "
            "first (`qemu-img convert -O qcow2` or `-O raw`)"
        )
    if head.startswith(_VHD_COOKIE):
        if len(head) >= 64 and _VHD_DISK_TYPE.unpack_from(head, 60)[0] == _VHD_DIFFERENCING:
            raise FormatError(
                "is a differencing VHD, which needs its parent disk; merge it first "
                "(`qemu-img convert -O vpc -o subformat=fixed,force_size`)"
            )
        return DiskFormat.VHD
    return DiskFormat.RAW


def detect_vhd_head(head: bytes) -> bool:
    """Whether the first bytes of a .vhd are those of a dynamic VHD (which needs converting)."""
    try:
        return detect(head) is DiskFormat.VHD
    except FormatError:
        return False  # a differencing VHD: the job refuses it with the reason when it validates


class Readable(Protocol):
    def read(self, amount: int, /) -> bytes: ...


def decompressing_reader(kind: DiskFormat, fetched: Readable) -> Callable[[int], bytes]:
    """`read(n)` over the decompressed bytes of `fetched`: n bytes, fewer only at the end.

    All three readers accept concatenated streams (pxz, pigz and zstd -T write those)."""
    stream = cast("IO[bytes]", fetched)  # the readers call only read() on it
    reader: Readable
    if kind is DiskFormat.XZ:
        # The readers live as long as the source, which closes what they read from.
        reader = lzma.LZMAFile(stream)  # noqa: SIM115
    elif kind is DiskFormat.GZIP:
        reader = gzip.GzipFile(fileobj=stream, mode="rb")
    elif kind is DiskFormat.ZSTD:
        import zstandard  # only sources that need it pay for the import

        reader = zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True, closefd=False)
    else:
        raise ValueError(f"{kind} is not a compression")

    def read(amount: int) -> bytes:
        parts: list[bytes] = []
        wanted = amount
        while wanted > 0:
            try:
                data = reader.read(wanted)
            except PublishError:
                raise  # the download's own failure, already explained
            except Exception as error:  # each decoder has its own errors; all mean a bad stream
                raise FormatError(f"is not a valid {kind} stream: {error}") from None
            if not data:
                break
            parts.append(data)
            wanted -= len(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    return read
