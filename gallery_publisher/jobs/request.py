"""The publish request as the HTTP API takes it: strict JSON in, a PublishRequest out.

Wrong types, unknown fields and bad option values are refused with the reason, so a typo in the
release workflow never turns into a silently different job.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, ClassVar
from urllib.parse import urlsplit

from gallery_publisher.errors import PublishError
from gallery_publisher.planning.families import family_for
from gallery_publisher.planning.image_names import SourceKind, parse_image_name
from gallery_publisher.planning.plan import PublishRequest, source_kind, target_gallery
from gallery_publisher.planning.settings import (
    REPLICATION_MODES,
    Settings,
    TargetRegion,
    check_replica_caps,
    parse_end_of_life,
    parse_regions,
)
from gallery_publisher.source.policy import check_source_url
from gallery_publisher.urls import UnsafeUrlPathError, decoded_segments

MAX_URL_LENGTH = 4096
# What job_instance_id makes: gallery and file name (letters, digits, . _ -) and a 12-digit hash,
# and run_instance_id's `-runN` for the second and later runs. Every class is spelled out in ASCII,
# so no re.ASCII is needed (it changes only \d, \w, \s, \b and case-blind matching).
_INSTANCE_ID = re.compile(r"publish-[A-Za-z0-9._-]{1,340}-[0-9a-f]{12}(-run([2-9]|[1-9][0-9]{1,5}))?")
FIELDS: dict[str, type | tuple[type, ...]] = {
    "image_url": str,
    "url_type": str,
    "dry_run": bool,
    "public_gallery": bool,
    "notify": bool,
    "target_regions": (str, list),
    "end_of_life_date": str,
    "exclude_from_latest": bool,
    "replication_mode": str,
}


class RequestError(PublishError):
    """A request the API refuses (HTTP 400)."""

    code: ClassVar[str] = "Request"


def _url_type(value: str | None) -> SourceKind | None:
    if value is None:
        return None
    aliases = {
        "raw": SourceKind.RAW,
        "vhd": SourceKind.VHD,
        "raw at aws s3": SourceKind.RAW,
        "vhd blob at azure": SourceKind.VHD,
    }
    kind = aliases.get(value.strip().lower())
    if kind is None:
        raise RequestError(f"url_type {value!r} is not allowed: use raw or vhd (or leave it out)")
    return kind


def _regions(value: str | list[Any] | None, settings: Settings) -> tuple[TargetRegion, ...] | None:
    if value is None:
        return None
    if isinstance(value, list):
        if not value or not all(isinstance(item, str) for item in value):
            raise RequestError('target_regions must be a non-empty list of "region=replicas" strings')
        value = ",".join(value)
    try:
        regions = parse_regions("target_regions", value)
        check_replica_caps("target_regions", regions, settings.max_regions, settings.max_total_replicas)
    except PublishError as error:
        raise RequestError(str(error)) from None
    return regions


def parse_job_request(body: Any, settings: Settings) -> PublishRequest:
    """Validate a decoded JSON body; raise RequestError naming the first problem."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    unknown = sorted(set(body) - FIELDS.keys())
    if unknown:
        raise RequestError(f"unknown field(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(FIELDS)}")
    for name, expected in FIELDS.items():
        value = body.get(name)
        # bool is a subclass of int, never of str or list, so isinstance is exact here.
        if value is not None and not isinstance(value, expected):
            wanted = expected.__name__ if isinstance(expected, type) else "string or list"
            raise RequestError(f"field {name!r} must be a {wanted}, not {type(value).__name__}")
    image_url = body.get("image_url")
    if not image_url:
        raise RequestError("field 'image_url' is required: the RAW image URL or the VHD blob URL")
    if len(image_url) > MAX_URL_LENGTH or re.search(r"[\s\x00-\x1f\x7f]", image_url):
        raise RequestError(
            f"image_url must be one URL without spaces or control characters, at most {MAX_URL_LENGTH} characters"
        )
    if "://" not in image_url:
        raise RequestError("image_url must be a full https URL")
    check_source_url(image_url, settings)
    try:
        decoded_segments(image_url)
    except UnsafeUrlPathError as error:
        raise RequestError(str(error)) from None
    if urlsplit(image_url).path.endswith("/"):
        # The name is read from the last segment: the object fetched must be the one named.
        raise RequestError("image_url must end with the image's file name, not a '/'")
    image = parse_image_name(image_url)
    url_type = _url_type(body.get("url_type"))
    try:
        source_kind(url_type, image)
    except PublishError as error:
        raise RequestError(str(error)) from None
    replication_mode = body.get("replication_mode")
    if replication_mode is not None and replication_mode not in REPLICATION_MODES:
        raise RequestError(
            f"replication_mode {replication_mode!r} is not allowed: use {' or '.join(REPLICATION_MODES)}"
        )
    try:
        end_of_life = parse_end_of_life("end_of_life_date", body.get("end_of_life_date") or "")
    except PublishError as error:
        raise RequestError(str(error)) from None
    return PublishRequest(
        image_url=image_url,
        url_type=url_type,
        dry_run=body.get("dry_run", True),
        public_gallery=body.get("public_gallery", False),
        notify=body.get("notify", False),
        target_regions=_regions(body.get("target_regions"), settings),
        end_of_life_date=end_of_life,
        exclude_from_latest=body.get("exclude_from_latest"),
        replication_mode=replication_mode,
    )


def job_instance_id(request: PublishRequest, settings: Settings) -> str:
    """One job per image and gallery: the same request twice is the same Durable instance."""
    image = parse_image_name(request.image_url)
    family = family_for(image)
    gallery, _, _ = target_gallery(request.public_gallery, family, settings)
    # The readable part helps an operator; the hash keeps ids unique and free of / \ ? #.
    digest = hashlib.sha256(f"{gallery}|{image.file_name}".encode()).hexdigest()[:12]
    return f"publish-{gallery}-{image.file_name}-{digest}"


def is_job_instance_id(text: str) -> bool:
    """Whether `text` has the shape of an id job_instance_id makes (checked before it goes in a URL)."""
    return _INSTANCE_ID.fullmatch(text) is not None


RUN_SUFFIX = re.compile(r"-run([2-9]|[1-9][0-9]+)$")


def run_instance_id(job_id: str, run: int) -> str:
    """The instance id of a job's `run`-th run: the job id itself for the first, then `-run2`, `-run3`…"""
    return job_id if run == 1 else f"{job_id}-run{run}"


def job_id_of(instance_id: str) -> str:
    """The job id an instance id of any of its runs belongs to."""
    return RUN_SUFFIX.sub("", instance_id)
