"""Defence in depth: what an activity that writes is asked to do is checked against the rules first.

The planner applies every rule when a request arrives; these checks apply them again where blobs
and gallery versions are written (staging, starting a version, replacing a failed one), so that an
orchestration input nobody planned (say, `gallery_version` started directly by a holder of the task
hub's system key) writes nothing. Everything is re-derived from names with the core's own rules:
the family from the image or blob name, the container, blob name, definitions and version from the
family table, the galleries and the account from the settings.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlsplit

from gallery_publisher.errors import PublishError
from gallery_publisher.jobs.messages import VersionJob
from gallery_publisher.planning.families import Family, family_for
from gallery_publisher.planning.image_names import ImageName, SourceKind, parse_image_name
from gallery_publisher.planning.settings import Settings
from gallery_publisher.source.policy import check_source_url
from gallery_publisher.urls import blob_location, decoded_segments, redact_url


class InputRefusedError(PublishError):
    """An activity's input that breaks a publishing rule: nothing was written."""

    code: ClassVar[str] = "InputRefused"


def _refuse(why: str) -> InputRefusedError:
    return InputRefusedError(f"input refused, nothing was written: {why}")


def check_gallery(gallery: str, family: Family, settings: Settings) -> None:
    """The CI gallery, or the public one for a family that may be public."""
    if gallery == settings.public_gallery:
        if settings.is_never_public(family.key):
            raise _refuse(
                f"family {family.key} is never published to the public gallery {gallery} "
                f"(GALLERY_PUBLISHER_NEVER_PUBLIC={','.join(settings.never_public)})"
            )
    elif gallery != settings.ci_gallery:
        raise _refuse(
            f"gallery {gallery!r} is neither the CI gallery {settings.ci_gallery} nor the public gallery "
            f"{settings.public_gallery}"
        )


def _parsed(name: str, kind: SourceKind | None) -> tuple[ImageName, Family]:
    """The image and family a name gives; `kind` None: either (a dynamic VHD is staged as a RAW is)."""
    try:
        image = parse_image_name(name)
    except PublishError as error:
        raise _refuse(str(error)) from None
    if kind is not None and image.source_kind is not kind:
        raise _refuse(f"{image.file_name} is not a .{kind} name")
    return image, family_for(image)


def check_stage_input(plan: dict[str, Any], source_url: str, settings: Settings) -> None:
    """Staging `source_url` into the plan's blob: the blob is the one the RAW's name gives."""
    try:
        check_source_url(source_url, settings)
        decoded_segments(source_url)
    except PublishError as error:
        raise _refuse(str(error)) from None
    if redact_url(source_url) != plan.get("source_url"):
        raise _refuse(f"the source {redact_url(source_url)} is not the plan's {plan.get('source_url')}")
    if plan.get("source_kind") != SourceKind.RAW:
        raise _refuse(
            f"the plan of {plan.get('source_url')} stages nothing (source kind {plan.get('source_kind')})"
        )
    image, family = _parsed(source_url, None)
    check_gallery(str(plan.get("gallery")), family, settings)
    index = plan.get("upload_index")
    expected = family.blob_name(image, index) if isinstance(index, int) else None
    if plan.get("container") != family.container or plan.get("blob_name") != expected:
        raise _refuse(
            f"{image.file_name} is staged as {family.container}/{expected or '<its upload index>'}, "
            f"not {plan.get('container')}/{plan.get('blob_name')}"
        )


def check_version_input(job: VersionJob, settings: Settings) -> None:
    """Creating (or replacing) a gallery version: gallery, definition, version and source all agree
    with the rules for the source blob's name, and the blob is in the configured account."""
    source_uri = job.source_uri
    try:
        location = blob_location(source_uri, settings.blob_endpoint)
    except PublishError as error:
        raise _refuse(str(error)) from None
    if location is None or urlsplit(source_uri).query or urlsplit(source_uri).fragment:
        raise _refuse(
            f"the source {redact_url(source_uri)} is not a blob of the configured storage account "
            f"({settings.blob_endpoint})"
        )
    if job.storage_account_id != settings.storage_account_id:
        raise _refuse(f"storage account {job.storage_account_id!r} is not the configured one")
    if job.resource_group != settings.resource_group:
        raise _refuse(f"resource group {job.resource_group!r} is not {settings.resource_group}")
    image, family = _parsed(location[1].rsplit("/", 1)[-1], SourceKind.VHD)
    check_gallery(job.gallery, family, settings)
    definitions = [definition.name for definition in family.definitions]
    if job.definition not in definitions:
        raise _refuse(
            f"{image.file_name} (family {family.key}) goes to {' and '.join(definitions)}, "
            f"not {job.definition!r}"
        )
    version = family.version(image, int(image.index))
    if job.version != version:
        raise _refuse(f"{image.file_name} is version {version}, not {job.version!r}")
