"""Reading image file names: the accepted patterns, what each part means, and the refusals."""

from __future__ import annotations

import pytest

from gallery_publisher.errors import ImageNameError
from gallery_publisher.planning.image_names import ImageType, SourceKind, file_name_of, parse_image_name


@pytest.mark.parametrize(
    ("name", "release", "kitten", "date", "index", "arch", "image_type", "kind", "release_string"),
    [
        ("AlmaLinux-10-Azure-10.0-20250529.0.x86_64.raw", "10.0", False, "20250529", "0", "x86_64",
         ImageType.DEFAULT, SourceKind.RAW, "AlmaLinux OS 10.0 x86_64"),
        ("AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw", "9.6", False, "20250522", "0", "x86_64",
         ImageType.DEFAULT, SourceKind.RAW, "AlmaLinux OS 9.6 x86_64"),
        ("AlmaLinux-Kitten-Azure-10-20250813.0.aarch64.raw", "10", True, "20250813", "0", "aarch64",
         ImageType.ARM64, SourceKind.RAW, "AlmaLinux Kitten OS 10 aarch64"),
        ("AlmaLinux-10-Azure-10.0-20250529.0-64k.aarch64.vhd", "10.0", False, "20250529", "0", "aarch64",
         ImageType.ARM64_64K, SourceKind.VHD, "AlmaLinux OS 10.0 aarch64"),
        ("AlmaLinux-10-Azure-10.0-20250529.0-64k.aarch64.raw", "10.0", False, "20250529", "0", "aarch64",
         ImageType.ARM64_64K, SourceKind.RAW, "AlmaLinux OS 10.0 aarch64"),
        ("almalinux-9.6-arm64.20250522-01.vhd", "9.6", False, "20250522", "01", "arm64",
         ImageType.ARM64, SourceKind.VHD, "AlmaLinux OS 9.6 arm64"),
        ("almalinux-8.10-x86_64.20240603-02.vhd", "8.10", False, "20240603", "02", "x86_64",
         ImageType.DEFAULT, SourceKind.VHD, "AlmaLinux OS 8.10 x86_64"),
        ("AlmaLinux-Azure-9.6-202505220-64k.aarch64.vhd", "9.6", False, "20250522", "0", "aarch64",
         ImageType.ARM64_64K, SourceKind.VHD, "AlmaLinux OS 9.6 aarch64"),
        ("AlmaLinux-Kitten-Azure-10-20250813.0-64k.aarch64.vhd", "10", True, "20250813", "0", "aarch64",
         ImageType.ARM64_64K, SourceKind.VHD, "AlmaLinux Kitten OS 10 aarch64"),
    ],
)  # fmt: skip
def test_accepted_names(
    name: str,
    release: str,
    kitten: bool,
    date: str,
    index: str,
    arch: str,
    image_type: ImageType,
    kind: SourceKind,
    release_string: str,
) -> None:
    image = parse_image_name(name)
    assert (image.release, image.kitten, image.date, image.index, image.arch) == (
        release,
        kitten,
        date,
        index,
        arch,
    )
    assert image.image_type is image_type
    assert image.source_kind is kind
    assert image.release_string == release_string
    assert image.file_name == name


def test_timestamp_is_date_and_build_index() -> None:
    assert parse_image_name("AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw").timestamp == "20250522.0"


@pytest.mark.parametrize("suffix", [".raw.xz", ".raw.zst", ".raw.gz", ".qcow2", ".vmdk", ".vhdx"])
def test_compressed_and_converted_images_are_staged_like_raw(suffix: str) -> None:
    for name in (
        f"AlmaLinux-9-Azure-9.6-20250522.0.x86_64{suffix}",
        f"AlmaLinux-Kitten-Azure-10-20250813.0.aarch64{suffix}",
    ):
        image = parse_image_name(name)
        assert (image.source_kind, image.file_name) == (SourceKind.RAW, name)


@pytest.mark.parametrize(
    "source",
    [
        "https://almalinux-images.s3.amazonaws.com/images/AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw",
        "https://b.s3.us-east-1.amazonaws.com/x/AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw?X-Amz-Signature=abc",
        "/var/tmp/images/AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw",
        "./AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw",
    ],
)
def test_only_the_last_path_segment_is_parsed(source: str) -> None:
    image = parse_image_name(source)
    assert image.file_name == "AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw"
    assert image.release == "9.6"


def test_blob_url_with_sas_token() -> None:
    url = "https://almalinux.blob.core.windows.net/9-arm64/almalinux-9.6-arm64.20250522-01.vhd?sv=2024&sig=SECRET"
    image = parse_image_name(url)
    assert image.source_kind is SourceKind.VHD
    assert file_name_of(url) == "almalinux-9.6-arm64.20250522-01.vhd"


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("AlmaLinux-9-Azure-9.6.x86_64.raw", ""),  # no date
        ("AlmaLinux-9-Azure-9.6-20250522.0.ppc64le.raw", ""),  # unknown arch
        ("AlmaLinux-9-Azure-9.6-20250522.0.x86_64.qcow2.xz", ""),  # qemu-img reads no compression
        ("AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw.bz2", ""),
        ("AlmaLinux", ""),
        ("AlmaLinux-9-Azure-9.6-20251399.0.x86_64.raw", "is not a date"),
        ("", "empty name"),
        ("   ", "empty name"),
        ("AlmaLinux-8-Azure-8.10-20250522.0-64k.aarch64.raw", "AlmaLinux 9 and later"),
        ("AlmaLinux-9-Azure-9.6-20250522.0-64k.x86_64.raw", "must be aarch64"),
        ("AlmaLinux-9-Azure-10.0-20250522.0.x86_64.raw", "does not match"),
        ("../AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw", "'..'"),
        ("https://h.s3.amazonaws.com/a/../AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw", "'..'"),
        ("almalinux-9.6-arm64.20250522-1.vhd", ""),  # legacy index is two digits
        ("almalinux-9.6-arm64.20250522-01.raw", ""),  # legacy names are VHDs only
    ],
)
def test_refused_names(name: str, why: str) -> None:
    with pytest.raises(ImageNameError) as refused:
        parse_image_name(name)
    message = str(refused.value)
    assert message.startswith("Could not parse filename '")
    assert "Accepted patterns:" in message
    assert "AlmaLinux-Azure-{ver}-{date}{N}-64k.aarch64.vhd" in message
    assert why in message
    assert "\n" not in message


def test_refusal_never_echoes_the_query_string() -> None:
    with pytest.raises(ImageNameError) as refused:
        parse_image_name("https://h.s3.amazonaws.com/bad-name.raw?X-Amz-Signature=SECRET123")
    assert "SECRET123" not in str(refused.value)
    assert "bad-name.raw" in str(refused.value)
