"""Reading image file names at their edges: the length limit, ASCII digits, near misses, the message."""

from __future__ import annotations

import pytest

from gallery_publisher.errors import ImageNameError
from gallery_publisher.planning.image_names import MAX_NAME_LENGTH, file_name_of, parse_image_name

ACCEPTED = (
    "Accepted patterns: "
    "AlmaLinux-{major}-Azure-{ver}-{date}.{idx}[-64k].{arch}.raw[.xz|.zst|.gz]|.qcow2|.vmdk|.vhdx|.vhd; "
    "AlmaLinux-Kitten-Azure-10-{date}.{idx}[-64k].{arch}.raw[.xz|.zst|.gz]|.qcow2|.vmdk|.vhdx|.vhd; "
    "almalinux-{ver}-{arch}.{date}-{NN}.vhd; "
    "AlmaLinux-Azure-{ver}-{date}{N}-64k.aarch64.vhd"
)
# Arabic-Indic digits: str.isdigit() and int() take them, an ASCII-only pattern does not.
ZERO, ONE, SIX, NINE = "\u0660", "\u0661", "\u0666", "\u0669"


def _refusal(name: str) -> str:
    with pytest.raises(ImageNameError) as refused:
        parse_image_name(name)
    return str(refused.value)


def _name_of_length(length: int) -> str:
    """A valid name padded to `length` characters with a long build index."""
    head, tail = "AlmaLinux-9-Azure-9.6-20250522.", ".x86_64.raw"
    return head + "0" * (length - len(head) - len(tail)) + tail


def test_a_file_name_may_have_255_characters_and_no_more() -> None:
    assert MAX_NAME_LENGTH == 255  # the limit of the file systems the build writes to
    at_limit = _name_of_length(255)
    assert parse_image_name(at_limit).file_name == at_limit
    message = _refusal(_name_of_length(256))
    assert "(longer than 255 characters)" in message


@pytest.mark.parametrize(
    "name",
    [
        f"AlmaLinux-{NINE}-Azure-{NINE}.6-20250522.0.x86_64.raw",
        f"AlmaLinux-9-Azure-9.6-2025{ZERO}522.0.x86_64.raw",
        f"AlmaLinux-9-Azure-9.6-20250522.{ZERO}.x86_64.raw",
        f"AlmaLinux-Kitten-Azure-10-20250813.{ZERO}.aarch64.raw",
        f"almalinux-9.6-arm64.20250522-{ZERO}{ONE}.vhd",
        f"almalinux-9.{SIX}-arm64.20250522-01.vhd",
        f"AlmaLinux-Azure-9.6-20250522{ZERO}-64k.aarch64.vhd",
        f"AlmaLinux-Azure-{NINE}.6-202505220-64k.aarch64.vhd",
    ],
)
def test_only_ascii_digits_count_as_digits_in_every_pattern(name: str) -> None:
    """A digit of another script would become a release or index Azure cannot take."""
    assert _refusal(name) == f"Could not parse filename '{name}'. {ACCEPTED}"


@pytest.mark.parametrize(
    "name",
    [
        "AlmaLinux-9-Azure-9.x-20250522.0.x86_64.raw",  # release with a letter
        "AlmaLinux-x-Azure-9.6-20250522.0.x86_64.raw",
        "AlmaLinux-9-Azure-9.6-20250522.a.x86_64.raw",  # build index with a letter
        "AlmaLinux-9-Azure-9.6-2025O522.0.x86_64.raw",  # a letter O in the date
        "AlmaLinux-Kitten-Azure-10-20250813.a.aarch64.raw",
        "almalinux-9.x-arm64.20250522-01.vhd",
        "almalinux-9.6-arm64.20250522-ab.vhd",  # legacy upload index with letters
        "almalinux-9.6-arm64.2025O522-01.vhd",
        "AlmaLinux-Azure-9.x-202505220-64k.aarch64.vhd",
        "AlmaLinux-Azure-9.6-20250522a-64k.aarch64.vhd",
    ],
)
def test_near_miss_names_are_refused_when_read_as_matching_no_pattern(name: str) -> None:
    """Refused at parse time with the accepted patterns, never later by whatever reads the index."""
    assert _refusal(name) == f"Could not parse filename '{name}'. {ACCEPTED}"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty name"),
        ("AlmaLinux-9-Azure-9.6-20251399.0.x86_64.raw", "20251399 is not a date"),
        ("AlmaLinux-9-Azure-10.0-20250522.0.x86_64.raw", "major version 9 does not match release 10.0"),
        ("AlmaLinux-8-Azure-8.10-20250522.0-64k.aarch64.raw", "arm64-64k images exist for AlmaLinux 9 and later only"),
        ("AlmaLinux-9-Azure-9.6-20250522.0-64k.x86_64.raw", "a -64k image must be aarch64"),
    ],
)  # fmt: skip
def test_a_refusal_gives_the_name_the_reason_and_the_accepted_patterns(name: str, reason: str) -> None:
    assert _refusal(name) == f"Could not parse filename '{name}' ({reason}). {ACCEPTED}"


@pytest.mark.parametrize(
    "path",
    [
        "../AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw",
        "images\\..\\AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw",  # Windows separators too
    ],
)
def test_a_path_that_climbs_with_dot_dot_is_refused(path: str) -> None:
    assert f"' (a path with '..' is not allowed). {ACCEPTED}" in _refusal(path)


def test_dot_dot_in_the_query_string_is_not_a_path() -> None:
    name = "AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw"
    assert parse_image_name(f"{name}?next=/../x").file_name == name


def test_a_refused_name_is_shown_printable_and_cut_at_200_characters() -> None:
    assert "'bad?name.raw'" in _refusal("bad\x07name.raw")
    assert f"'{'x' * 200}'." in _refusal("x" * 200)
    assert f"'{'x' * 200}…'." in _refusal("x" * 201)


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("https://h.s3.amazonaws.com/a/name.raw#part", "name.raw"),  # a URL's fragment is not the name
        ("https://h.s3.amazonaws.com/a/name%2Braw?sig=S", "name+raw"),
        ("dir/name.raw?sig=S", "name.raw"),  # a local path with a query string
        ("name.raw?sig=S", "name.raw"),
        ("dir/sub/", "sub"),
    ],
)
def test_the_file_name_is_the_last_path_segment_without_query_or_fragment(source: str, name: str) -> None:
    assert file_name_of(source) == name
