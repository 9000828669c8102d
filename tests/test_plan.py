"""The plan: every operation in order, the gallery choice and the public refusal (behaviour.md §2-§4, §6)."""

from __future__ import annotations

from datetime import date

import pytest

from gallery_publisher.errors import PublishError
from gallery_publisher.image_names import SourceKind
from gallery_publisher.plan import ExistingState, PublishRequest, make_plan
from gallery_publisher.settings import TargetRegion, load_settings

SETTINGS = load_settings({})
RAW_9 = "https://almalinux-images.s3.amazonaws.com/AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw?X-Amz-Signature=SECRET"


def test_raw_x86_64_plan_stages_then_creates_both_generations() -> None:
    plan = make_plan(PublishRequest(RAW_9), SETTINGS)
    assert (
        plan.blob_url
        == "https://almalinux.blob.core.windows.net/9-default/almalinux-9.6-x86_64.20250522-01.vhd"
    )
    assert [(v.gallery, v.definition, v.version, v.hyper_v_generation) for v in plan.versions] == [
        ("almalinux_ci", "almalinux-9-gen1", "9.6.2025052201", "V1"),
        ("almalinux_ci", "almalinux-9-gen2", "9.6.2025052201", "V2"),
    ]
    operations = plan.operations()
    assert operations[0].startswith("stage https://almalinux-images.s3.amazonaws.com/AlmaLinux-9-Azure")
    assert "almalinux_ci/almalinux-9-gen1/9.6.2025052201" in operations[1]
    assert "almalinux_ci/almalinux-9-gen2/9.6.2025052201" in operations[2]
    assert "eastus=1, germanywestcentral=1, westus2=1, southeastasia=1, southcentralus=1" in operations[1]


def test_plan_never_carries_the_query_string() -> None:
    plan = make_plan(PublishRequest(RAW_9), SETTINGS)
    assert "SECRET" not in plan.render_text()
    assert "SECRET" not in str(plan.to_json())


def test_public_gallery_for_a_family_that_may_be_public() -> None:
    plan = make_plan(PublishRequest(RAW_9, public_gallery=True), SETTINGS)
    assert plan.gallery == "almalinux"
    assert plan.public_refused is False


@pytest.mark.parametrize(
    "name",
    [
        "AlmaLinux-Kitten-Azure-10-20250813.0.x86_64.raw",
        "AlmaLinux-10-Azure-10.0-20250529.0.x86_64.raw",
        "AlmaLinux-9-Azure-9.6-20250522.0-64k.aarch64.raw",
    ],
)
def test_never_public_families_go_to_ci_and_say_so(name: str) -> None:
    plan = make_plan(PublishRequest(name, public_gallery=True), SETTINGS)
    assert plan.gallery == "almalinux_ci"
    assert plan.public_refused is True
    assert "matches the never-public rule" in plan.public_refused_reason
    assert "REFUSED" in plan.render_text()


def test_existing_state_moves_the_index_past_blobs_and_versions() -> None:
    existing = ExistingState(
        blob_names=("almalinux-9.6-x86_64.20250522-01.vhd",), version_names=("9.6.2025052202",)
    )
    plan = make_plan(PublishRequest(RAW_9), SETTINGS, existing)
    assert plan.upload_index == 3
    assert plan.blob_name == "almalinux-9.6-x86_64.20250522-03.vhd"
    assert plan.versions[0].version == "9.6.2025052203"


def test_a_rerun_reuses_the_blob_staged_from_the_same_source() -> None:
    existing = ExistingState(
        blob_names=("almalinux-9.6-x86_64.20250522-01.vhd", "almalinux-9.6-x86_64.20250522-02.vhd"),
        version_names=("9.6.2025052202",),
        blob_from_same_source="almalinux-9.6-x86_64.20250522-02.vhd",
    )
    plan = make_plan(PublishRequest(RAW_9), SETTINGS, existing)
    assert plan.upload_index == 2
    assert plan.reuses_blob is True
    assert plan.operations()[0].startswith("reuse blob")


def test_vhd_input_is_validated_not_staged_and_keeps_its_index() -> None:
    url = "https://almalinux.blob.core.windows.net/9-arm64/almalinux-9.6-arm64.20250522-03.vhd?sig=SECRET"
    plan = make_plan(PublishRequest(url), SETTINGS)
    assert plan.source_kind is SourceKind.VHD
    assert plan.blob_name is None
    assert plan.container == "9-arm64"
    assert (
        plan.blob_url == "https://almalinux.blob.core.windows.net/9-arm64/almalinux-9.6-arm64.20250522-03.vhd"
    )
    assert [(v.definition, v.version) for v in plan.versions] == [("almalinux-9-arm64", "9.6.2025052203")]
    assert plan.operations()[0].startswith("validate VHD blob")


def test_modern_vhd_name_index_is_formatted_for_a_two_digit_family() -> None:
    url = "https://almalinux.blob.core.windows.net/9-default/AlmaLinux-9-Azure-9.6-20250522.1.x86_64.vhd"
    plan = make_plan(PublishRequest(url), SETTINGS)
    assert plan.versions[0].version == "9.6.2025052201"


def test_vhd_in_another_storage_account_is_refused() -> None:
    url = "https://someoneelse.blob.core.windows.net/9-arm64/almalinux-9.6-arm64.20250522-01.vhd"
    with pytest.raises(PublishError, match="not in the configured storage account"):
        make_plan(PublishRequest(url), SETTINGS)


def test_url_type_that_contradicts_the_name_is_refused() -> None:
    with pytest.raises(PublishError, match="url_type is vhd"):
        make_plan(PublishRequest(RAW_9, url_type=SourceKind.VHD), SETTINGS)


def test_request_overrides_win_over_settings() -> None:
    request = PublishRequest(
        RAW_9,
        target_regions=(TargetRegion("westeurope", 3),),
        end_of_life_date=date(2031, 1, 1),
        exclude_from_latest=True,
        replication_mode="Shallow",
    )
    data = make_plan(request, SETTINGS).to_json()
    assert data["target_regions"] == [{"name": "westeurope", "replicas": 3}]
    assert data["end_of_life_date"] == "2031-01-01"
    assert data["exclude_from_latest"] is True
    assert data["replication_mode"] == "Shallow"
