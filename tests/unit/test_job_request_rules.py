"""The HTTP request's rules one by one: url_type spellings, the URL length limit, exact refusals, and
the instance ids of a job and its runs."""

from __future__ import annotations

import re
from typing import Any

import pytest

from gallery_publisher.jobs.request import (
    MAX_URL_LENGTH,
    RequestError,
    is_job_instance_id,
    job_id_of,
    job_instance_id,
    parse_job_request,
    run_instance_id,
)
from gallery_publisher.planning.image_names import SourceKind
from gallery_publisher.planning.settings import load_settings

SETTINGS = load_settings({})
NAME = "AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw"
RAW = f"https://almalinux-images.s3.amazonaws.com/{NAME}"
VHD = "https://almalinux.blob.core.windows.net/9-arm64/almalinux-9.6-arm64.20250522-01.vhd"


def _refusal(body: Any) -> str:
    with pytest.raises(RequestError) as refused:
        parse_job_request(body, SETTINGS)
    return str(refused.value)


@pytest.mark.parametrize(
    ("url_type", "image", "kind"),
    [
        ("raw", RAW, SourceKind.RAW),
        ("RAW at AWS S3", RAW, SourceKind.RAW),  # the old workflow's choice, in any case
        (" raw at aws s3 ", RAW, SourceKind.RAW),
        ("vhd", VHD, SourceKind.VHD),
        ("VHD blob at Azure", VHD, SourceKind.VHD),
        ("raw", VHD, SourceKind.RAW),  # a .vhd to stage as a fixed copy
    ],
)
def test_every_spelling_of_url_type_is_read(url_type: str, image: str, kind: SourceKind) -> None:
    assert parse_job_request({"image_url": image, "url_type": url_type}, SETTINGS).url_type is kind


def test_url_type_vhd_on_a_raw_name_is_refused_saying_it_is_inferred() -> None:
    assert _refusal({"image_url": RAW, "url_type": "vhd"}) == (
        f"url_type is vhd but {NAME} is a .raw file name; "
        "set url_type to raw or leave it out: it is inferred from the name"
    )


def test_an_image_url_may_have_4096_characters_and_no_more() -> None:
    assert MAX_URL_LENGTH == 4096
    query = "?X-Amz-Signature="
    at_limit = RAW + query + "a" * (4096 - len(RAW) - len(query))
    assert parse_job_request({"image_url": at_limit}, SETTINGS).image_url == at_limit
    assert _refusal({"image_url": at_limit + "a"}) == (
        "image_url must be one URL without spaces or control characters, at most 4096 characters"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "the request body must be a JSON object"),
        ({}, "field 'image_url' is required: the RAW image URL or the VHD blob URL"),
        ({"image_url": NAME}, "image_url must be a full https URL"),
        ({"image_url": RAW + "/"}, "image_url must end with the image's file name, not a '/'"),
        ({"image_url": RAW, "target_regions": 3}, "field 'target_regions' must be a string or list, not int"),
        ({"image_url": RAW, "target_regions": ["eastus", 2]},
         'target_regions must be a non-empty list of "region=replicas" strings'),
        ({"image_url": RAW, "target_regions": "eastus=0"},
         "target_regions: replicas for eastus must be a whole number from 1 to 100"),
        ({"image_url": RAW, "target_regions": "eastus=20,westus2=20"},
         "target_regions: 40 replicas in all, over the cap of 30 (GALLERY_PUBLISHER_MAX_TOTAL_REPLICAS); "
         "ask for fewer replicas or raise the cap"),
        ({"image_url": RAW, "end_of_life_date": "soon"},
         "end_of_life_date='soon' is not allowed: use a date like 2030-06-30"),
    ],
)  # fmt: skip
def test_a_refusal_names_the_field_and_what_to_do(body: Any, message: str) -> None:
    assert _refusal(body) == message


def test_a_job_id_names_the_gallery_and_the_file_and_ends_with_a_12_digit_hash() -> None:
    job = job_instance_id(parse_job_request({"image_url": RAW}, SETTINGS), SETTINGS)
    assert re.fullmatch(rf"publish-almalinux_ci-{re.escape(NAME)}-[0-9a-f]{{12}}", job)
    assert is_job_instance_id(job)


def test_the_first_run_is_the_job_itself_and_later_runs_carry_their_number() -> None:
    job = job_instance_id(parse_job_request({"image_url": RAW}, SETTINGS), SETTINGS)
    assert run_instance_id(job, 1) == job
    assert run_instance_id(job, 2) == f"{job}-run2"
    for run in (1, 2, 9, 10, 123):
        instance = run_instance_id(job, run)
        assert is_job_instance_id(instance)
        assert job_id_of(instance) == job


@pytest.mark.parametrize(
    "text",
    [
        "",
        "publish--0123456789ab",  # no name
        "publish-almalinux_ci-x.raw-0123456789a",  # an 11-digit hash
        "publish-almalinux_ci-x.raw-0123456789AB",  # the hash is lower-case hex
        "publish-almalinux_ci-x/../y.raw-0123456789ab",  # a path would leave the status URL
        "publish-almalinux_ci-x.raw-0123456789ab-run1",  # run 1 has no suffix
        "publish-almalinux_ci-x.raw-0123456789ab-run01",
        "publish-almalinux_ci-x.raw-0123456789ab\n",
    ],
)
def test_text_that_no_job_id_could_be_is_not_an_instance_id(text: str) -> None:
    assert not is_job_instance_id(text)


@pytest.mark.parametrize(
    ("instance", "job"),
    [
        ("publish-g-x.raw-0123456789ab-run2", "publish-g-x.raw-0123456789ab"),
        ("publish-g-x.raw-0123456789ab-run10", "publish-g-x.raw-0123456789ab"),
        ("publish-g-x.raw-0123456789ab-run1", "publish-g-x.raw-0123456789ab-run1"),  # never made
        ("publish-g-x.raw-0123456789ab-run05", "publish-g-x.raw-0123456789ab-run05"),
        ("publish-g-x-run2.raw-0123456789ab", "publish-g-x-run2.raw-0123456789ab"),  # only at the end
    ],
)
def test_the_job_of_a_run_drops_only_a_final_run_suffix(instance: str, job: str) -> None:
    assert job_id_of(instance) == job
