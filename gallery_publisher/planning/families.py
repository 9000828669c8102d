"""Image families as one table of data, and the upload-index rule.

A family is what one kind of image (release line and image type) is called and where it goes:
its storage container, blob name, gallery version and image definitions. A new major release or
a renamed definition is a new or changed row here, never a new branch of code.

The upload index counts uploads of one release, date and image type: one more than the highest
already used by a blob in the family's container or by a version in its definitions (a version may
outlive its blob), the first being 01 (two-digit families) or 0 (one-digit). The build index in a
RAW file's name (`.0` in `20250522.0`) is not it; a VHD's name carries its upload index.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from gallery_publisher.errors import IndexOverflowError, PublishError
from gallery_publisher.planning.image_names import ImageName, ImageType

MAX_VERSION_PART = 2_147_483_647


@dataclass(frozen=True)
class DefinitionSpec:
    """An image definition a family publishes into, with the properties it must have."""

    name: str
    hyper_v_generation: str  # "V1" or "V2"
    architecture: str  # "x64" or "Arm64", as the gallery API spells it


@dataclass(frozen=True)
class Family:
    key: str
    release_line: str  # the major version, or "kitten-10"
    image_type: ImageType
    container: str
    # Templates take {release}, {major}, {date} and {index}; the index is zero-padded to index_digits.
    blob_template: str
    version_template: str
    index_digits: int
    first_index: int
    definitions: tuple[DefinitionSpec, ...]

    def format_index(self, index: int) -> str:
        if index < 0 or len(str(index)) > self.index_digits:
            raise IndexOverflowError(
                f"upload index {index} does not fit the {self.index_digits}-digit index of family "
                f"{self.key}: {10**self.index_digits} uploads of one release, date and type are the most "
                "its names can hold; delete unused blobs and versions of that date or publish under a new date"
            )
        return str(index).zfill(self.index_digits)

    def _fields(self, image: ImageName, index: str) -> dict[str, str]:
        return {"release": image.release, "major": image.major, "date": image.date, "index": index}

    def blob_prefix(self, image: ImageName) -> str:
        """What every blob name of this release, date and type starts with (for listing)."""
        marker = "\x00"  # equivalent mutant: any text that no name contains marks the index's place
        return self.blob_template.format(**self._fields(image, marker)).partition(marker)[0]

    def blob_name(self, image: ImageName, index: int) -> str:
        return self.blob_template.format(**self._fields(image, self.format_index(index)))

    def version(self, image: ImageName, index: int) -> str:
        version = self.version_template.format(**self._fields(image, self.format_index(index)))
        for part in version.split("."):
            if int(part) > MAX_VERSION_PART:
                raise IndexOverflowError(
                    f"version {version} has a part above {MAX_VERSION_PART:,}, the largest Azure accepts; "
                    f"upload index {index} cannot be used for {image.file_name}"
                )
        return version

    def _index_pattern(self, template: str, image: ImageName) -> re.Pattern[str]:
        marker = "\x00INDEX\x00"  # equivalent mutant: any text that no name contains marks the index's place
        literal = re.escape(template.format(**self._fields(image, marker)))
        # [0-9], not \d: a digit of another script is no index of ours (int() would read it).
        return re.compile(literal.replace(re.escape(marker), f"([0-9]{{{self.index_digits}}})"))

    def used_indices(
        self, image: ImageName, blob_names: Iterable[str], version_names: Iterable[str]
    ) -> set[int]:
        """Indices already taken by this release, date and type, in blobs or in versions."""
        blob_pattern = self._index_pattern(self.blob_template, image)
        version_pattern = self._index_pattern(self.version_template, image)
        used = {int(m.group(1)) for name in blob_names if (m := blob_pattern.fullmatch(name))}
        used |= {int(m.group(1)) for name in version_names if (m := version_pattern.fullmatch(name))}
        return used

    def next_upload_index(
        self, image: ImageName, blob_names: Iterable[str], version_names: Iterable[str]
    ) -> int:
        """One more than the highest index in use (blobs AND versions), else the family's first index."""
        used = self.used_indices(image, blob_names, version_names)
        index = max(used) + 1 if used else self.first_index
        self.version(image, index)  # raises when the index overflows digits or version limits
        return index


def _x64(*names_and_generations: tuple[str, str]) -> tuple[DefinitionSpec, ...]:
    return tuple(DefinitionSpec(name, generation, "x64") for name, generation in names_and_generations)


def _arm64(name: str) -> tuple[DefinitionSpec, ...]:
    return (DefinitionSpec(name, "V2", "Arm64"),)


_LEGACY_VERSION = "{release}.{date}{index}"
FAMILIES: tuple[Family, ...] = (
    Family("8-default", "8", ImageType.DEFAULT, "8-default",
           "almalinux-{release}-x86_64.{date}-{index}.vhd", _LEGACY_VERSION, 2, 1,
           _x64(("almalinux-8-gen1", "V1"), ("almalinux-8-gen2", "V2"))),
    Family("8-arm64", "8", ImageType.ARM64, "8-arm64",
           "almalinux-{release}-arm64.{date}-{index}.vhd", _LEGACY_VERSION, 2, 1,
           _arm64("almalinux-8-arm64")),
    Family("9-default", "9", ImageType.DEFAULT, "9-default",
           "almalinux-{release}-x86_64.{date}-{index}.vhd", _LEGACY_VERSION, 2, 1,
           _x64(("almalinux-9-gen1", "V1"), ("almalinux-9-gen2", "V2"))),
    Family("9-arm64", "9", ImageType.ARM64, "9-arm64",
           "almalinux-{release}-arm64.{date}-{index}.vhd", _LEGACY_VERSION, 2, 1,
           _arm64("almalinux-9-arm64")),
    Family("9-arm64-64k", "9", ImageType.ARM64_64K, "9-arm64-64k",
           "AlmaLinux-Azure-{release}-{date}{index}-64k.aarch64.vhd", _LEGACY_VERSION, 1, 0,
           _arm64("almalinux-9-arm64-64k")),
    Family("10-default", "10", ImageType.DEFAULT, "almalinux-10",
           "AlmaLinux-{major}-Azure-{release}-{date}.{index}.x86_64.vhd", _LEGACY_VERSION, 1, 0,
           _x64(("almalinux-10-gen1", "V1"), ("almalinux-10-gen2", "V2"))),
    Family("10-arm64", "10", ImageType.ARM64, "almalinux-10",
           "AlmaLinux-{major}-Azure-{release}-{date}.{index}.aarch64.vhd", _LEGACY_VERSION, 1, 0,
           _arm64("almalinux-ci-10-arm64-gen2")),
    Family("10-arm64-64k", "10", ImageType.ARM64_64K, "almalinux-10",
           "AlmaLinux-{major}-Azure-{release}-{date}.{index}-64k.aarch64.vhd", _LEGACY_VERSION, 1, 0,
           _arm64("almalinux-ci-10-arm64-64k-gen2")),
    Family("kitten-10-default", "kitten-10", ImageType.DEFAULT, "kitten-10",
           "AlmaLinux-Kitten-Azure-10-{date}.{index}.x86_64.vhd", "10.{date}.{index}", 1, 0,
           _x64(("almalinux-ci-kitten-10-x64-gen1", "V1"), ("almalinux-ci-kitten-10-x64-gen2", "V2"))),
    Family("kitten-10-arm64", "kitten-10", ImageType.ARM64, "kitten-10",
           "AlmaLinux-Kitten-Azure-10-{date}.{index}.aarch64.vhd", "10.{date}.{index}", 1, 0,
           _arm64("almalinux-ci-kitten-10-arm64-gen2")),
    Family("kitten-10-arm64-64k", "kitten-10", ImageType.ARM64_64K, "kitten-10",
           "AlmaLinux-Kitten-Azure-10-{date}.{index}-64k.aarch64.vhd", "10.{date}.{index}", 1, 0,
           _arm64("almalinux-ci-kitten-10-arm64-64k-gen2")),
)  # fmt: skip


def release_line(image: ImageName) -> str:
    return "kitten-10" if image.kitten else image.major


def family_for(image: ImageName) -> Family:
    line = release_line(image)
    for family in FAMILIES:
        if family.release_line == line and family.image_type == image.image_type:
            return family
    known = ", ".join(sorted({f.release_line for f in FAMILIES}))
    raise PublishError(
        f"no image family for {image.release_string} ({image.image_type}): known release lines are {known}; "
        "a new release line is a new row in gallery_publisher/planning/families.py"
    )


def all_definitions() -> tuple[DefinitionSpec, ...]:
    """Every definition of the table, once (the emulator seeds these)."""
    seen: dict[str, DefinitionSpec] = {}
    for family in FAMILIES:
        for definition in family.definitions:
            seen.setdefault(definition.name, definition)
    return tuple(seen.values())
