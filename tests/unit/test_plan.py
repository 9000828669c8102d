"""The plan: every operation in order, the gallery choice and the public refusal (the families, the upload
index, never-public families kept in the CI gallery, and a dry run that writes nothing)."""

from __future__ import annotations

from datetime import date

import pytest

from gallery_publisher.errors import PublishError
from gallery_publisher.planning.image_names import SourceKind
from gallery_publisher.planning.plan import ExistingState, PublishRequest, make_plan
from gallery_publisher.planning.settings import TargetRegion, load_settings

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
        target_regions=(TargetRegion("westeurope", 1),),
        end_of_life_date=date(2031, 1, 1),
        exclude_from_latest=True,
        replication_mode="Shallow",
    )
    data = make_plan(request, SETTINGS).to_json()
    assert data["target_regions"] == [{"name": "westeurope", "replicas": 1}]
    assert data["end_of_life_date"] == "2031-01-01"
    assert data["exclude_from_latest"] is True
    assert data["replication_mode"] == "Shallow"


HOME = ExistingState(home_regions=("eastus", "eastus"))  # the definitions' regions, as preflight found them


def test_a_home_region_left_out_is_added_and_the_plan_says_so() -> None:
    request = PublishRequest(RAW_9, target_regions=(TargetRegion("westus2", 2),))
    plan = make_plan(request, SETTINGS, HOME)
    assert plan.target_regions == (TargetRegion("eastus", 1), TargetRegion("westus2", 2))
    assert any("leave out eastus" in note and "eastus=1 was added" in note for note in plan.notes)
    assert "note:         target regions westus2=2 leave out eastus" in plan.render_text()
    assert "regions eastus=1, westus2=2;" in plan.operations()[1]


def test_a_home_region_left_out_of_the_settings_is_added_too() -> None:
    settings = load_settings({"GALLERY_PUBLISHER_TARGET_REGIONS": "westus2=1,southeastasia=1"})
    plan = make_plan(PublishRequest(RAW_9), settings, ExistingState(home_regions=("germanywestcentral",)))
    assert [r.name for r in plan.target_regions] == ["germanywestcentral", "westus2", "southeastasia"]


def test_a_home_region_already_listed_is_kept_as_asked_in_either_spelling() -> None:
    plan = make_plan(PublishRequest(RAW_9), SETTINGS, ExistingState(home_regions=("East US",)))
    assert plan.target_regions == SETTINGS.target_regions
    assert not any("region" in note for note in plan.notes)


def test_an_offline_plan_says_the_home_region_is_added_when_known() -> None:
    plan = make_plan(PublishRequest(RAW_9), SETTINGS)
    assert any("not known offline" in note for note in plan.notes)


@pytest.mark.parametrize(
    ("regions", "home"),
    [
        ((TargetRegion("westus2", 1),), ("eastus",)),  # the home region would be added: two regions
        ((TargetRegion("eastus", 2),), ("eastus",)),  # more than one replica
        ((TargetRegion("eastus", 1), TargetRegion("westus2", 1)), ("eastus",)),
        ((TargetRegion("eastus", 1), TargetRegion("westus2", 1)), ()),  # offline: still two regions
    ],
)
def test_shallow_replication_beyond_one_replica_in_the_home_region_is_refused(
    regions: tuple[TargetRegion, ...], home: tuple[str, ...]
) -> None:
    request = PublishRequest(RAW_9, target_regions=regions, replication_mode="Shallow")
    with pytest.raises(PublishError) as caught:
        make_plan(request, SETTINGS, ExistingState(home_regions=home))
    message = str(caught.value)
    assert "Shallow" in message and "GALLERY_PUBLISHER_TARGET_REGIONS" in message
    assert "replication mode Full" in message
    if home:
        assert "to eastus=1" in message


def test_shallow_replication_to_the_home_region_alone_is_planned() -> None:
    request = PublishRequest(RAW_9, target_regions=(TargetRegion("eastus", 1),), replication_mode="Shallow")
    plan = make_plan(request, SETTINGS, HOME)
    assert (plan.replication_mode, plan.target_regions) == ("Shallow", (TargetRegion("eastus", 1),))


def test_a_storage_account_id_naming_another_account_is_refused() -> None:
    settings = load_settings(
        {
            "GALLERY_PUBLISHER_STORAGE_ACCOUNT_ID": "/subscriptions/s/resourceGroups/rg/providers/"
            "Microsoft.Storage/storageAccounts/otheraccount"
        }
    )
    for image in (
        RAW_9,
        "https://almalinux.blob.core.windows.net/9-default/almalinux-9.6-x86_64.20250522-01.vhd",
    ):
        with pytest.raises(PublishError) as caught:
            make_plan(PublishRequest(image), settings)
        message = str(caught.value)
        assert "storage account 'almalinux'" in message and "'otheraccount'" in message
        assert "storageAccounts/almalinux" in message
