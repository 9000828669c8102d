"""Reading an AlmaLinux image file name into an ImageName record.

The accepted names are the patterns below (modern and Kitten RAW or VHD names, legacy and 9.x 64k
VHD names); anything else is refused with "Could not parse filename" and the list of them. The arch
gives the image type: x86_64 is default, aarch64 or arm64 is arm64, a `-64k` marker arm64-64k (9.x
and later only). Only the last path segment of a URL or path is read; the query string (a SAS token, say) is
dropped before parsing and never echoed back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import unquote, urlsplit

from gallery_publisher.errors import ImageNameError


class SourceKind(StrEnum):
    RAW = "raw"
    VHD = "vhd"


class ImageType(StrEnum):
    DEFAULT = "default"
    ARM64 = "arm64"
    ARM64_64K = "arm64-64k"


@dataclass(frozen=True)
class ImageName:
    file_name: str
    release: str  # "9.6", "10.0", or "10" for Kitten
    kitten: bool
    date: str  # YYYYMMDD
    index: str  # the build index of a RAW name, the upload index of a VHD name, as written
    arch: str  # as written in the name: x86_64, aarch64 or arm64
    image_type: ImageType
    source_kind: SourceKind

    @property
    def major(self) -> str:
        return self.release.split(".")[0]

    @property
    def release_string(self) -> str:
        product = "AlmaLinux Kitten OS" if self.kitten else "AlmaLinux OS"
        return f"{product} {self.release} {self.arch}"

    @property
    def timestamp(self) -> str:
        """The date and index as the old job summary showed them (`20250522.0`)."""
        return f"{self.date}.{self.index}" if self.index else self.date


_DATE = r"(?P<date>20\d{6})"
_ARCH = r"(?P<arch>x86_64|aarch64)"
# A disk image to stage (RAW, compressed RAW, or a format qemu-img converts), or a VHD blob.
_EXT = r"\.(?P<ext>raw(?:\.(?:xz|zst|gz))?|qcow2|vmdk|vhdx|vhd)"
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "AlmaLinux-{major}-Azure-{ver}-{date}.{idx}[-64k].{arch}.raw[.xz|.zst|.gz]|.qcow2|.vmdk|.vhdx|.vhd",
        re.compile(
            rf"AlmaLinux-(?P<major>\d+)-Azure-(?P<release>\d+\.\d+)-{_DATE}\.(?P<index>\d+)"
            rf"(?P<k64>-64k)?\.{_ARCH}{_EXT}",
            re.ASCII,
        ),
    ),
    (
        "AlmaLinux-Kitten-Azure-10-{date}.{idx}[-64k].{arch}.raw[.xz|.zst|.gz]|.qcow2|.vmdk|.vhdx|.vhd",
        re.compile(
            rf"AlmaLinux-Kitten-Azure-(?P<release>10)-{_DATE}\.(?P<index>\d+)(?P<k64>-64k)?\.{_ARCH}{_EXT}",
            re.ASCII,
        ),
    ),
    (
        "almalinux-{ver}-{arch}.{date}-{NN}.vhd",
        re.compile(
            rf"almalinux-(?P<release>\d+\.\d+)-(?P<arch>x86_64|aarch64|arm64)\.{_DATE}-(?P<index>\d{{2}})"
            r"\.(?P<ext>vhd)",
            re.ASCII,
        ),
    ),
    (
        "AlmaLinux-Azure-{ver}-{date}{N}-64k.aarch64.vhd",
        re.compile(
            rf"AlmaLinux-Azure-(?P<release>\d+\.\d+)-{_DATE}(?P<index>\d)(?P<k64>-64k)\.(?P<arch>aarch64)"
            r"\.(?P<ext>vhd)",
            re.ASCII,
        ),
    ),
)
MAX_NAME_LENGTH = 255  # a file name's limit on every file system the build writes to
ACCEPTED_PATTERNS = tuple(description for description, _ in _PATTERNS)
_ARM_ARCHES = {"aarch64", "arm64"}


def file_name_of(image: str) -> str:
    """The last path segment of a name, local path or URL, without query string or fragment."""
    path = urlsplit(image).path if "://" in image else image.partition("?")[0]
    return unquote(path.rstrip("/").rpartition("/")[2])


def _refuse(name: str, why: str = "") -> ImageNameError:
    printable = "".join(c if c.isprintable() else "?" for c in name)
    shown = printable if len(printable) <= 200 else printable[:200] + "…"
    accepted = "; ".join(ACCEPTED_PATTERNS)
    reason = f" ({why})" if why else ""
    return ImageNameError(f"Could not parse filename '{shown}'{reason}. Accepted patterns: {accepted}")


def parse_image_name(image: str) -> ImageName:
    """Parse a file name, path or URL; refuse anything that is not an AlmaLinux Azure image."""
    if not image or not image.strip():
        raise _refuse("", "empty name")
    if ".." in image.partition("?")[0].replace("\\", "/").split("/"):
        raise _refuse(file_name_of(image), "a path with '..' is not allowed")
    name = file_name_of(image)
    if len(name) > MAX_NAME_LENGTH:
        raise _refuse(name, f"longer than {MAX_NAME_LENGTH} characters")
    for _, pattern in _PATTERNS:
        match = pattern.fullmatch(name)
        if match:
            return _image_from_match(name, match)
    raise _refuse(name)


def _image_from_match(name: str, match: re.Match[str]) -> ImageName:
    fields = match.groupdict()
    release = fields["release"]
    try:
        datetime.strptime(fields["date"], "%Y%m%d")
    except ValueError:
        raise _refuse(name, f"{fields['date']} is not a date") from None
    kitten = name.startswith("AlmaLinux-Kitten-")
    if fields.get("major") is not None and fields["major"] != release.split(".")[0]:
        raise _refuse(name, f"major version {fields['major']} does not match release {release}")
    arch = fields["arch"]
    if fields.get("k64"):
        if release.split(".")[0] == "8":
            raise _refuse(name, "arm64-64k images exist for AlmaLinux 9 and later only")
        image_type = ImageType.ARM64_64K
    elif arch in _ARM_ARCHES:
        image_type = ImageType.ARM64
    else:
        image_type = ImageType.DEFAULT
    if fields.get("k64") and arch not in _ARM_ARCHES:
        raise _refuse(name, "a -64k image must be aarch64")
    return ImageName(
        file_name=name,
        release=release,
        kitten=kitten,
        date=fields["date"],
        index=fields["index"],
        arch=arch,
        image_type=image_type,
        source_kind=SourceKind.VHD if fields["ext"] == "vhd" else SourceKind.RAW,
    )
