"""The families (where each kind of image goes and what it is called) and the upload index, with
the worked examples of the naming rules the existing galleries follow."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gallery_publisher.errors import IndexOverflowError
from gallery_publisher.planning.families import FAMILIES, all_definitions, family_for
from gallery_publisher.planning.image_names import parse_image_name


@pytest.mark.parametrize(
    ("name", "container", "blob", "version", "definitions"),
    [
        # The worked examples: the first upload of a date in each naming scheme.
        ("AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw", "9-default", "almalinux-9.6-x86_64.20250522-01.vhd",
         "9.6.2025052201", [("almalinux-9-gen1", "V1"), ("almalinux-9-gen2", "V2")]),
        ("AlmaLinux-10-Azure-10.0-20250529.0-64k.aarch64.raw", "almalinux-10",
         "AlmaLinux-10-Azure-10.0-20250529.0-64k.aarch64.vhd", "10.0.202505290",
         [("almalinux-ci-10-arm64-64k-gen2", "V2")]),
        ("AlmaLinux-Kitten-Azure-10-20250813.0.x86_64.raw", "kitten-10",
         "AlmaLinux-Kitten-Azure-10-20250813.0.x86_64.vhd", "10.20250813.0",
         [("almalinux-ci-kitten-10-x64-gen1", "V1"), ("almalinux-ci-kitten-10-x64-gen2", "V2")]),
        # The rest of the family table.
        ("AlmaLinux-8-Azure-8.10-20240603.0.x86_64.raw", "8-default", "almalinux-8.10-x86_64.20240603-01.vhd",
         "8.10.2024060301", [("almalinux-8-gen1", "V1"), ("almalinux-8-gen2", "V2")]),
        ("AlmaLinux-8-Azure-8.10-20240603.0.aarch64.raw", "8-arm64", "almalinux-8.10-arm64.20240603-01.vhd",
         "8.10.2024060301", [("almalinux-8-arm64", "V2")]),
        ("AlmaLinux-9-Azure-9.6-20250522.0.aarch64.raw", "9-arm64", "almalinux-9.6-arm64.20250522-01.vhd",
         "9.6.2025052201", [("almalinux-9-arm64", "V2")]),
        ("AlmaLinux-9-Azure-9.6-20250522.0-64k.aarch64.raw", "9-arm64-64k",
         "AlmaLinux-Azure-9.6-202505220-64k.aarch64.vhd", "9.6.202505220", [("almalinux-9-arm64-64k", "V2")]),
        ("AlmaLinux-10-Azure-10.0-20250529.0.x86_64.raw", "almalinux-10",
         "AlmaLinux-10-Azure-10.0-20250529.0.x86_64.vhd", "10.0.202505290",
         [("almalinux-10-gen1", "V1"), ("almalinux-10-gen2", "V2")]),
        ("AlmaLinux-10-Azure-10.0-20250529.0.aarch64.raw", "almalinux-10",
         "AlmaLinux-10-Azure-10.0-20250529.0.aarch64.vhd", "10.0.202505290", [("almalinux-ci-10-arm64-gen2", "V2")]),
        ("AlmaLinux-Kitten-Azure-10-20250813.0.aarch64.raw", "kitten-10",
         "AlmaLinux-Kitten-Azure-10-20250813.0.aarch64.vhd", "10.20250813.0",
         [("almalinux-ci-kitten-10-arm64-gen2", "V2")]),
        ("AlmaLinux-Kitten-Azure-10-20250813.0-64k.aarch64.raw", "kitten-10",
         "AlmaLinux-Kitten-Azure-10-20250813.0-64k.aarch64.vhd", "10.20250813.0",
         [("almalinux-ci-kitten-10-arm64-64k-gen2", "V2")]),
    ],
)  # fmt: skip
def test_first_upload_of_each_family(
    name: str, container: str, blob: str, version: str, definitions: list[tuple[str, str]]
) -> None:
    image = parse_image_name(name)
    family = family_for(image)
    index = family.next_upload_index(image, [], [])
    assert family.container == container
    assert family.blob_name(image, index) == blob
    assert family.version(image, index) == version
    assert [(d.name, d.hyper_v_generation) for d in family.definitions] == definitions


def test_arm_definitions_are_arm64_and_x86_are_x64() -> None:
    for family in FAMILIES:
        expected = "x64" if family.image_type == "default" else "Arm64"
        assert {d.architecture for d in family.definitions} == {expected}


def test_all_definitions_lists_each_once() -> None:
    names = [d.name for d in all_definitions()]
    assert len(names) == len(set(names)) == 15


NINE = parse_image_name("AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw")
TEN = parse_image_name("AlmaLinux-10-Azure-10.0-20250529.0.x86_64.raw")


def test_build_index_of_the_raw_name_is_not_the_upload_index() -> None:
    image = parse_image_name("AlmaLinux-9-Azure-9.6-20250522.3.x86_64.raw")
    assert family_for(image).next_upload_index(image, [], []) == 1


def test_index_counts_blobs_only() -> None:
    blobs = ["almalinux-9.6-x86_64.20250522-01.vhd", "almalinux-9.6-x86_64.20250522-02.vhd"]
    assert family_for(NINE).next_upload_index(NINE, blobs, []) == 3


def test_index_counts_versions_only() -> None:
    assert family_for(NINE).next_upload_index(NINE, [], ["9.6.2025052204"]) == 5


def test_index_takes_the_highest_of_blobs_and_versions() -> None:
    blobs = ["almalinux-9.6-x86_64.20250522-01.vhd"]
    versions = ["9.6.2025052201", "9.6.2025052202"]
    assert family_for(NINE).next_upload_index(NINE, blobs, versions) == 3


def test_index_skips_past_gaps_rather_than_filling_them() -> None:
    blobs = ["almalinux-9.6-x86_64.20250522-01.vhd", "almalinux-9.6-x86_64.20250522-05.vhd"]
    assert family_for(NINE).next_upload_index(NINE, blobs, []) == 6


def test_index_ignores_other_dates_releases_and_types() -> None:
    blobs = [
        "almalinux-9.6-x86_64.20250521-07.vhd",  # another date
        "almalinux-9.5-x86_64.20250522-03.vhd",  # another release
        "almalinux-9.6-arm64.20250522-04.vhd",  # another type
        "almalinux-9.6-x86_64.20250522-01.vhd.bak",  # not a blob of the family
    ]
    versions = ["9.6.2025052101", "9.5.2025052209", "9.6.202505229"]
    assert family_for(NINE).next_upload_index(NINE, blobs, versions) == 1


def test_one_digit_family_starts_at_zero_and_counts_up() -> None:
    family = family_for(TEN)
    assert family.next_upload_index(TEN, [], []) == 0
    blobs = ["AlmaLinux-10-Azure-10.0-20250529.0.x86_64.vhd"]
    assert family.next_upload_index(TEN, blobs, ["10.0.202505291"]) == 2
    assert family.version(TEN, 2) == "10.0.202505292"


def test_one_digit_family_overflows_after_nine() -> None:
    family = family_for(TEN)
    with pytest.raises(IndexOverflowError, match="1-digit index"):
        family.next_upload_index(TEN, [], ["10.0.202505299"])


def test_two_digit_family_overflows_after_ninety_nine() -> None:
    family = family_for(NINE)
    assert family.next_upload_index(NINE, ["almalinux-9.6-x86_64.20250522-98.vhd"], []) == 99
    with pytest.raises(IndexOverflowError, match="2-digit index"):
        family.next_upload_index(NINE, ["almalinux-9.6-x86_64.20250522-99.vhd"], [])


def test_version_part_above_azure_limit_is_refused() -> None:
    # Names only carry 20xx dates today; a date of 2148-01-01 with index 01 would make a patch of
    # 2148010101, over the limit, and the rule must catch it rather than let Azure refuse it.
    image = replace(parse_image_name("AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw"), date="21480101")
    with pytest.raises(IndexOverflowError, match="2,147,483,647"):
        family_for(image).next_upload_index(image, [], [])


def test_kitten_versions_count_by_the_third_part() -> None:
    image = parse_image_name("AlmaLinux-Kitten-Azure-10-20250813.0.x86_64.raw")
    family = family_for(image)
    assert family.next_upload_index(image, [], ["10.20250813.0", "10.20250813.1"]) == 2
