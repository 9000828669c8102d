"""The fixed-VHD rules Azure applies, pinned to literal numbers rather than to our own constants."""

from __future__ import annotations

import struct
import uuid
from datetime import UTC, datetime

import pytest

from gallery_publisher.staging import vhd


def test_azure_wants_the_disk_in_whole_mebibytes_of_1048576_bytes() -> None:
    assert vhd.MIB == 1048576
    assert vhd.FOOTER_SIZE == 512
    assert vhd.padded_disk_size(1) == 1048576
    assert vhd.padded_disk_size(1048577) == 2097152


@pytest.mark.parametrize("size", [0, -512, 1, 511, 513, 1048576 + 1])
def test_the_footer_builder_refuses_a_disk_that_is_not_a_positive_multiple_of_512(size: int) -> None:
    with pytest.raises(
        ValueError, match=f"a VHD disk size must be a positive multiple of 512 bytes, not {size}$"
    ):
        vhd.build_footer(size)


def test_the_smallest_disk_the_builder_takes_is_one_sector() -> None:
    assert vhd.parse_footer(vhd.build_footer(512)).disk_size == 512


@pytest.mark.parametrize("blob_size", [0, 511, 512, 1024, 1048576])
def test_a_blob_without_a_whole_mib_of_disk_before_its_footer_is_refused(blob_size: int) -> None:
    """A footer alone, or less, has no data: there is nothing to make an image of."""
    footer = vhd.build_footer(512)
    with pytest.raises(vhd.VhdFooterError) as refused:
        vhd.check_fixed_vhd(blob_size, footer)
    assert str(refused.value) == (
        f"the VHD is {blob_size} bytes; Azure needs a whole number of MiB of disk (at least one) plus "
        "the 512-byte footer (the nearest valid size is 1049088)"
    )


def test_one_mib_of_disk_and_its_footer_is_the_smallest_valid_blob() -> None:
    footer = vhd.build_footer(1048576)
    assert vhd.check_fixed_vhd(1048576 + 512, footer).disk_size == 1048576


def test_a_corrupt_checksum_is_refused_saying_so() -> None:
    footer = bytearray(vhd.build_footer(1048576))
    footer[100] ^= 1
    with pytest.raises(vhd.VhdFooterError) as refused:
        vhd.parse_footer(bytes(footer))
    assert str(refused.value) == "the VHD footer checksum does not match its contents (corrupt footer)"


def _footer_with(original_size: int, current_size: int) -> bytes:
    """A footer whose original and current sizes differ (qemu-img's are always equal)."""
    footer = bytearray(vhd.build_footer(current_size))
    footer[40:48] = struct.pack(">Q", original_size)
    footer[64:68] = bytes(4)
    footer[64:68] = struct.pack(">I", vhd._checksum(bytes(footer)))
    return bytes(footer)


def test_every_field_is_read_from_its_own_place() -> None:
    unique_id = uuid.UUID("12345678-1234-5678-1234-567812345678")
    footer = vhd.build_footer(3 * 1048576, timestamp=777, unique_id=unique_id)
    parsed = vhd.parse_footer(footer)
    assert (parsed.disk_size, parsed.original_size, parsed.disk_type) == (3 * 1048576, 3 * 1048576, 2)
    assert (parsed.timestamp, parsed.unique_id, parsed.creator_app) == (777, unique_id, b"qem2")
    resized = vhd.parse_footer(_footer_with(original_size=1048576, current_size=2 * 1048576))
    assert (resized.original_size, resized.disk_size) == (1048576, 2 * 1048576)


def test_the_timestamp_counts_seconds_since_2000_01_01_utc() -> None:
    expected = (datetime.now(UTC) - datetime(2000, 1, 1, tzinfo=UTC)).total_seconds()
    stamped = vhd.parse_footer(vhd.build_footer(1048576)).timestamp
    assert abs(stamped - expected) < 60


def _dynamic_footer(disk_type: int = 3, cookie: bytes = b"conectix") -> bytes:
    """A footer as the VHD specification lays out a dynamic disk's: disk type 3 at bytes 60-63, data
    offset 512 (the dynamic header follows the footer copy), the checksum summed here independently of
    the module: the one's complement of every byte but the checksum's own four."""
    footer = bytearray(vhd.build_footer(4 * 1048576))
    footer[0:8] = cookie
    footer[16:24] = struct.pack(">Q", 512)
    footer[60:64] = struct.pack(">I", disk_type)
    footer[64:68] = bytes(4)
    footer[64:68] = struct.pack(">I", ~sum(footer) & 0xFFFFFFFF)
    return bytes(footer)


def test_a_valid_dynamic_disk_footer_is_recognised_as_dynamic() -> None:
    assert vhd.is_dynamic_footer(_dynamic_footer()) is True


@pytest.mark.parametrize(
    ("footer", "why"),
    [
        (vhd.build_footer(4 * 1048576), "a fixed disk"),
        (_dynamic_footer(disk_type=4), "a differencing disk"),
        (_dynamic_footer(cookie=b"notavhd!"), "no conectix cookie"),
        (_dynamic_footer()[:511], "one byte short"),
        (_dynamic_footer() + b"\0", "one byte long"),
        (
            _dynamic_footer()[:100] + bytes([_dynamic_footer()[100] ^ 1]) + _dynamic_footer()[101:],
            "bad checksum",
        ),
    ],
)
def test_anything_else_is_not_taken_for_a_dynamic_disk(footer: bytes, why: str) -> None:
    assert vhd.is_dynamic_footer(footer) is False, why
