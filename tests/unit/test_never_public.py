"""The never-public rule (Kitten, 10.x and 9.x arm64-64k stay in the CI gallery) for every family key, and the setting that holds it.

A renamed family key would silently make a family public (the default patterns match on keys), so
every key is pinned here, each with an image of that family sent through the real plan.
"""

from __future__ import annotations

import pytest

from gallery_publisher.errors import SettingsError
from gallery_publisher.planning.families import FAMILIES
from gallery_publisher.planning.plan import PublishRequest, make_plan
from gallery_publisher.planning.settings import load_settings

VARIABLE = "GALLERY_PUBLISHER_NEVER_PUBLIC"
# One image of each family, and whether the never-public rule lets it be public.
EVERY_FAMILY = {
    "8-default": ("AlmaLinux-8-Azure-8.10-20240603.0.x86_64.raw", True),
    "8-arm64": ("AlmaLinux-8-Azure-8.10-20240603.0.aarch64.raw", True),
    "9-default": ("AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw", True),
    "9-arm64": ("AlmaLinux-9-Azure-9.6-20250522.0.aarch64.raw", True),
    "9-arm64-64k": ("AlmaLinux-9-Azure-9.6-20250522.0-64k.aarch64.raw", False),
    "10-default": ("AlmaLinux-10-Azure-10.0-20250529.0.x86_64.raw", False),
    "10-arm64": ("AlmaLinux-10-Azure-10.0-20250529.0.aarch64.raw", False),
    "10-arm64-64k": ("AlmaLinux-10-Azure-10.0-20250529.0-64k.aarch64.raw", False),
    "kitten-10-default": ("AlmaLinux-Kitten-Azure-10-20250813.0.x86_64.raw", False),
    "kitten-10-arm64": ("AlmaLinux-Kitten-Azure-10-20250813.0.aarch64.raw", False),
    "kitten-10-arm64-64k": ("AlmaLinux-Kitten-Azure-10-20250813.0-64k.aarch64.raw", False),
}


def test_the_family_keys_are_exactly_those_the_rule_is_written_for() -> None:
    assert sorted(family.key for family in FAMILIES) == sorted(EVERY_FAMILY)


@pytest.mark.parametrize(("key", "image", "may_be_public"), [(k, *v) for k, v in EVERY_FAMILY.items()])
def test_a_public_request_goes_public_only_for_families_that_may_be_public(
    key: str, image: str, may_be_public: bool
) -> None:
    plan = make_plan(PublishRequest(image, public_gallery=True), load_settings({}))
    assert plan.family == key
    assert plan.gallery == ("almalinux" if may_be_public else "almalinux_ci")
    assert plan.public_refused is not may_be_public


@pytest.mark.parametrize(
    ("image", "rule"),
    [
        ("AlmaLinux-Kitten-Azure-10-20250813.0-64k.aarch64.raw", "'kitten-*'"),
        ("AlmaLinux-10-Azure-10.0-20250529.0.aarch64.raw", "'10-*'"),
        ("AlmaLinux-9-Azure-9.6-20250522.0-64k.aarch64.raw", "'9-arm64-64k'"),
    ],
)
def test_the_plan_names_the_rule_that_sent_it_to_the_ci_gallery(image: str, rule: str) -> None:
    plan = make_plan(PublishRequest(image, public_gallery=True), load_settings({}))
    assert f"never-public rule {rule}" in plan.public_refused_reason
    assert f"never-public rule {rule}" in plan.render_text()


@pytest.mark.parametrize("value", ["", " ", " , ,"])
def test_an_empty_rule_is_refused_naming_the_keys(value: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({VARIABLE: value})
    assert VARIABLE in str(refused.value)
    assert "is empty" in str(refused.value)
    assert all(key in str(refused.value) for key in EVERY_FAMILY)


@pytest.mark.parametrize("pattern", ["kitten", "10", "9-arm64-4k", "kitten-11-*", "11-*"])
def test_a_pattern_that_matches_no_family_is_refused_naming_the_keys(pattern: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({VARIABLE: f"kitten-*,{pattern}"})
    assert f"{pattern!r} matches no family key" in str(refused.value)
    assert all(key in str(refused.value) for key in EVERY_FAMILY)


def test_a_deliberately_narrower_list_stays_possible() -> None:
    settings = load_settings({VARIABLE: "kitten-*"})
    assert settings.is_never_public("kitten-10-arm64-64k")
    assert not settings.is_never_public("10-arm64")
