"""The VHD footer we build must match qemu-img's byte for byte (timestamp and UUID aside)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gallery_publisher.staging import vhd


@pytest.mark.parametrize("size", [vhd.MIB, 3 * vhd.MIB, 129 * vhd.MIB, 200 * 1024 * vhd.MIB])
def test_footer_matches_qemu_img(tmp_path: Path, size: int) -> None:
    raw, out = tmp_path / "disk.raw", tmp_path / "disk.vhd"
    with raw.open("wb") as f:
        f.truncate(size)
    subprocess.run(
        ["qemu-img", "convert", "-f", "raw", "-O", "vpc", "-o", "subformat=fixed,force_size", raw, out],
        check=True,
    )
    with out.open("rb") as f:
        f.seek(-vhd.FOOTER_SIZE, 2)
        reference = f.read()
    parsed = vhd.check_fixed_vhd(out.stat().st_size, reference)
    ours = vhd.build_footer(size, timestamp=parsed.timestamp, unique_id=parsed.unique_id)
    assert ours == reference
    assert parsed.disk_size == size


def test_padded_size_rounds_up_to_a_whole_mib() -> None:
    assert vhd.padded_disk_size(1) == vhd.MIB
    assert vhd.padded_disk_size(vhd.MIB) == vhd.MIB
    assert vhd.padded_disk_size(vhd.MIB + 512) == 2 * vhd.MIB


def test_corrupt_checksum_is_refused() -> None:
    footer = bytearray(vhd.build_footer(vhd.MIB))
    footer[100] ^= 1
    with pytest.raises(vhd.VhdFooterError, match="checksum"):
        vhd.parse_footer(bytes(footer))


def test_missing_cookie_is_refused() -> None:
    with pytest.raises(vhd.VhdFooterError, match="no VHD footer"):
        vhd.parse_footer(bytes(512))


def test_dynamic_disk_is_refused() -> None:
    footer = bytearray(vhd.build_footer(vhd.MIB))
    footer[60:64] = (3).to_bytes(4, "big")
    footer[64:68] = bytes(4)
    footer[64:68] = vhd._checksum(bytes(footer)).to_bytes(4, "big")
    with pytest.raises(vhd.VhdFooterError, match="not a fixed disk"):
        vhd.parse_footer(bytes(footer))


def test_size_not_whole_mib_is_refused() -> None:
    footer = vhd.build_footer(vhd.MIB + 512)
    with pytest.raises(vhd.VhdFooterError, match="whole number of MiB"):
        vhd.check_fixed_vhd(vhd.MIB + 1024, footer)


def test_footer_size_disagreeing_with_blob_is_refused() -> None:
    footer = vhd.build_footer(2 * vhd.MIB)
    with pytest.raises(vhd.VhdFooterError, match="footer says"):
        vhd.check_fixed_vhd(vhd.MIB + 512, footer)
