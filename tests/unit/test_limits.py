"""Caps on regions and replicas, and the staging deadline: settings, requests and the plan."""

from __future__ import annotations

import pytest

from gallery_publisher.errors import PublishError, SettingsError
from gallery_publisher.jobs.request import RequestError, parse_job_request
from gallery_publisher.planning.plan import PublishRequest, make_plan
from gallery_publisher.planning.settings import TargetRegion, load_settings

RAW = "https://almalinux-images.s3.amazonaws.com/AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw"
ELEVEN_REGIONS = ",".join(f"region{n:02d}" for n in range(11))


def test_defaults() -> None:
    settings = load_settings({})
    assert (settings.max_regions, settings.max_total_replicas) == (10, 30)
    assert settings.staging_deadline_minutes == 240
    assert (settings.cleanup_after_hours, settings.cleanup_delete) == (72, False)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GALLERY_PUBLISHER_TARGET_REGIONS": ELEVEN_REGIONS}, "11 regions, over the cap of 10"),
        ({"GALLERY_PUBLISHER_TARGET_REGIONS": "eastus=20,westus2=11"}, "31 replicas in all, over the cap of 30"),
        ({"GALLERY_PUBLISHER_TARGET_REGIONS": "eastus,westus2", "GALLERY_PUBLISHER_MAX_REGIONS": "1"},
         "GALLERY_PUBLISHER_MAX_REGIONS"),
        ({"GALLERY_PUBLISHER_MAX_TOTAL_REPLICAS": "4"}, "5 replicas in all, over the cap of 4"),
        ({"GALLERY_PUBLISHER_MAX_REGIONS": "0"}, "from 1 to 100"),
        ({"GALLERY_PUBLISHER_STAGING_DEADLINE_MINUTES": "0"}, "from 1 to 10080"),
        ({"GALLERY_PUBLISHER_CLEANUP_AFTER_HOURS": "soon"}, "from 1 to 8760"),
        ({"GALLERY_PUBLISHER_CLEANUP_DELETE": "perhaps"}, "true or false"),
    ],
)  # fmt: skip
def test_settings_over_a_cap_or_out_of_range_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(env)


def test_raised_caps_allow_more() -> None:
    settings = load_settings(
        {"GALLERY_PUBLISHER_TARGET_REGIONS": ELEVEN_REGIONS, "GALLERY_PUBLISHER_MAX_REGIONS": "11"}
    )
    assert len(settings.target_regions) == 11


@pytest.mark.parametrize(
    ("regions", "message"),
    [
        (ELEVEN_REGIONS, "11 regions, over the cap of 10"),
        ([f"region{n:02d}=1" for n in range(11)], "11 regions, over the cap of 10"),
        ("eastus=100", "100 replicas in all, over the cap of 30"),
        ("eastus=15,westus2=16", "31 replicas in all"),
    ],
)
def test_a_request_over_a_cap_is_refused(regions: str | list[str], message: str) -> None:
    with pytest.raises(RequestError, match=message):
        parse_job_request({"image_url": RAW, "target_regions": regions}, load_settings({}))


def test_a_request_at_the_caps_passes() -> None:
    request = parse_job_request(
        {"image_url": RAW, "target_regions": "eastus=21,westus2=9"}, load_settings({})
    )
    assert request.target_regions == (TargetRegion("eastus", 21), TargetRegion("westus2", 9))


def test_the_plan_refuses_regions_over_the_caps_however_they_came() -> None:
    forged = PublishRequest(RAW, target_regions=(TargetRegion("eastus", 100), TargetRegion("westus2", 100)))
    with pytest.raises(PublishError, match="200 replicas in all"):
        make_plan(forged, load_settings({}))
