"""The HTTP API's request validation and the source URL policy."""

from __future__ import annotations

from typing import Any

import pytest

from gallery_publisher.errors import PublishError
from gallery_publisher.jobs.request import RequestError, job_instance_id, parse_job_request
from gallery_publisher.planning.image_names import SourceKind
from gallery_publisher.planning.settings import TargetRegion, load_settings
from gallery_publisher.source.policy import SourceNotAllowedError, check_source_url

SETTINGS = load_settings({})
LOCAL = load_settings({"GALLERY_PUBLISHER_LOCAL_MODE": "true"})
RAW = "https://almalinux-images.s3.amazonaws.com/AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw"
VHD = "https://almalinux.blob.core.windows.net/9-arm64/almalinux-9.6-arm64.20250522-01.vhd"


def test_minimal_request_defaults_to_a_dry_run_in_the_ci_gallery() -> None:
    request = parse_job_request({"image_url": RAW}, SETTINGS)
    assert (request.dry_run, request.public_gallery, request.notify, request.url_type) == (
        True,
        False,
        False,
        None,
    )


def test_every_field_is_read() -> None:
    body: dict[str, Any] = {
        "image_url": VHD,
        "url_type": "VHD blob at Azure",
        "dry_run": False,
        "public_gallery": True,
        "notify": True,
        "target_regions": ["eastus=2", "westus2"],
        "end_of_life_date": "2030-01-31",
        "exclude_from_latest": True,
        "replication_mode": "Shallow",
    }
    request = parse_job_request(body, SETTINGS)
    assert request.url_type is SourceKind.VHD
    assert (request.dry_run, request.public_gallery, request.notify) == (False, True, True)
    assert request.target_regions == (TargetRegion("eastus", 2), TargetRegion("westus2", 1))
    assert str(request.end_of_life_date) == "2030-01-31"
    assert (request.exclude_from_latest, request.replication_mode) == (True, "Shallow")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "must be a JSON object"),
        ({}, "'image_url' is required"),
        ({"image_url": RAW, "dryrun": False}, "unknown field(s) 'dryrun'"),
        ({"image_url": RAW, "dry_run": "false"}, "'dry_run' must be a bool, not str"),
        ({"image_url": RAW, "public_gallery": 1}, "'public_gallery' must be a bool, not int"),
        ({"image_url": 42}, "'image_url' must be a str"),
        ({"image_url": RAW, "url_type": "qcow2"}, "url_type 'qcow2' is not allowed"),
        ({"image_url": RAW, "replication_mode": "full"}, "replication_mode 'full' is not allowed"),
        ({"image_url": RAW, "end_of_life_date": "tomorrow"}, "use a date like"),
        ({"image_url": RAW, "target_regions": []}, "non-empty list"),
        ({"image_url": RAW, "target_regions": "eastus=0"}, "from 1 to 100"),
        ({"image_url": "AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw"}, "full https URL"),
        ({"image_url": RAW + " " + RAW}, "without spaces"),
        ({"image_url": "https://almalinux-images.s3.amazonaws.com/x.qcow2"}, "Could not parse filename"),
        ({"image_url": "http://almalinux-images.s3.amazonaws.com/AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw"}, "must use https"),
        ({"image_url": "https://evil.example/AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw"}, "'evil.example' is not allowed"),
        ({"image_url": "https://user:pw@x.s3.amazonaws.com/AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw"}, "user name or password"),
    ],
)  # fmt: skip
def test_bad_requests_are_refused_with_the_reason(body: Any, message: str) -> None:
    with pytest.raises(PublishError) as refused:
        parse_job_request(body, SETTINGS)
    assert message in str(refused.value)


def test_type_errors_are_request_errors() -> None:
    with pytest.raises(RequestError):
        parse_job_request({"image_url": RAW, "notify": "yes"}, SETTINGS)


@pytest.mark.parametrize(
    "url",
    [
        "https://b.s3.amazonaws.com/x.raw",
        "https://b.s3.eu-central-1.amazonaws.com/x.raw",
        "https://b.s3-accelerate.amazonaws.com/x.raw",
        "https://b.s3-accelerate.dualstack.amazonaws.com/x.raw",
        "https://almalinux.blob.core.windows.net/9-default/x.vhd",
    ],
)
def test_allowed_sources(url: str) -> None:
    check_source_url(url, SETTINGS)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://b.s3.amazonaws.com/x.raw",
        "http://127.0.0.1:8080/x.raw",  # loopback only in local mode
        "https://169.254.169.254/latest/meta-data",
        "https://s3.amazonaws.com.evil.example/x.raw",
        "https://localhost/x.raw",
        "https://b.s3.amazonaws.com:99999/x.raw",
    ],
)
def test_refused_sources(url: str) -> None:
    with pytest.raises(SourceNotAllowedError):
        check_source_url(url, SETTINGS)


def test_local_mode_allows_plain_http_to_loopback_only() -> None:
    check_source_url("http://127.0.0.1:8080/x.raw", LOCAL)
    with pytest.raises(SourceNotAllowedError):
        check_source_url("http://10.0.0.5:8080/x.raw", LOCAL)


def test_same_image_and_gallery_is_the_same_instance() -> None:
    first = job_instance_id(parse_job_request({"image_url": RAW}, SETTINGS), SETTINGS)
    signed = parse_job_request({"image_url": RAW + "?X-Amz-Signature=abc", "dry_run": False}, SETTINGS)
    public = parse_job_request({"image_url": RAW, "public_gallery": True}, SETTINGS)
    assert job_instance_id(signed, SETTINGS) == first
    assert job_instance_id(public, SETTINGS) != first
    assert not any(c in first for c in "/\\?#") and not first.startswith("@") and len(first) <= 256


def test_redact_url_drops_query_fragment_and_credentials() -> None:
    from gallery_publisher.urls import redact_url

    assert redact_url("https://u:p@h.example:8443/a/b.raw?sig=S#frag") == "https://h.example:8443/a/b.raw"
    assert redact_url("https://h.example:99999/x?sig=S") == "https://h.example:99999/x"
    assert redact_url("name.raw?sig=S") == "name.raw"
