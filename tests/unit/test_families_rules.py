"""The family table's rules at their edges: the blob prefix used for listing, Azure's largest version
part, ASCII-only indices, and how a release line is chosen."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gallery_publisher.errors import IndexOverflowError, PublishError
from gallery_publisher.planning.families import FAMILIES, MAX_VERSION_PART, family_for, release_line
from gallery_publisher.planning.image_names import ImageName, parse_image_name

NINE = parse_image_name("AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw")
TEN_64K = parse_image_name("AlmaLinux-10-Azure-10.0-20250529.0-64k.aarch64.raw")
KITTEN = parse_image_name("AlmaLinux-Kitten-Azure-10-20250813.0.aarch64.raw")


@pytest.mark.parametrize(
    ("image", "prefix"),
    [
        (NINE, "almalinux-9.6-x86_64.20250522-"),
        (TEN_64K, "AlmaLinux-10-Azure-10.0-20250529."),
        (KITTEN, "AlmaLinux-Kitten-Azure-10-20250813."),
    ],
)
def test_the_blob_prefix_is_the_name_up_to_the_upload_index(image: ImageName, prefix: str) -> None:
    """Listing by this prefix finds every upload of the same release, date and type."""
    family = family_for(image)
    assert family.blob_prefix(image) == prefix
    assert family.blob_name(image, 3).startswith(prefix)


def test_a_version_part_may_be_2147483647_and_no_more() -> None:
    """Azure's limit for each part of a version: the largest signed 32-bit integer."""
    assert MAX_VERSION_PART == 2147483647
    image = replace(NINE, date="21474836")  # not a real date: the only way to reach the limit
    family = family_for(image)
    assert family.version(image, 47) == "9.6.2147483647"
    with pytest.raises(IndexOverflowError, match=r"^version 9\.6\.2147483648 has a part above 2,147,483,647"):
        family.version(image, 48)


def test_an_index_written_in_another_scripts_digits_is_not_one_of_ours() -> None:
    arabic_01 = "\u0660\u0661"
    blobs = [f"almalinux-9.6-x86_64.20250522-{arabic_01}.vhd", "almalinux-9.6-x86_64.20250522-ab.vhd"]
    versions = [f"9.6.20250522{arabic_01}"]
    assert family_for(NINE).used_indices(NINE, blobs, versions) == set()


def test_kitten_images_have_their_own_release_line() -> None:
    assert release_line(KITTEN) == "kitten-10"
    assert release_line(TEN_64K) == "10"
    assert release_line(NINE) == "9"


def test_every_x86_64_definition_is_x64_and_every_arm_one_is_arm64() -> None:
    """Spelled as the gallery API spells them."""
    architectures = {(family.image_type, d.architecture) for family in FAMILIES for d in family.definitions}
    assert architectures == {("default", "x64"), ("arm64", "Arm64"), ("arm64-64k", "Arm64")}


def test_an_image_of_an_unknown_release_line_is_refused_naming_the_known_ones() -> None:
    image = replace(NINE, release="7.9")
    with pytest.raises(PublishError) as refused:
        family_for(image)
    assert str(refused.value) == (
        "no image family for AlmaLinux OS 7.9 x86_64 (default): known release lines are 10, 8, 9, kitten-10; "
        "a new release line is a new row in gallery_publisher/planning/families.py"
    )
