"""What the plan carries to the orchestrator: every setting that shapes a version, the JSON contract,
the source kind, the gallery choice and the notes a dry run shows."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from gallery_publisher.errors import PublishError
from gallery_publisher.planning.image_names import SourceKind
from gallery_publisher.planning.plan import ExistingState, PublishRequest, converts_vhd, make_plan
from gallery_publisher.planning.settings import TargetRegion, load_settings

SETTINGS = load_settings({})
RAW_9 = "https://almalinux-images.s3.amazonaws.com/AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw?X-Amz-Signature=SECRET"
VHD_9 = "https://almalinux.blob.core.windows.net/9-default/almalinux-9.6-x86_64.20250522-03.vhd"
BLOB = "https://almalinux.blob.core.windows.net/9-default/almalinux-9.6-x86_64.20250522-01.vhd"
REGIONS = "eastus=1, germanywestcentral=1, westus2=1, southeastasia=1, southcentralus=1"
OFFLINE = (
    "the image definitions' region is not known offline: a real run adds it to the target regions when "
    "they leave it out"
)


def _create(definition: str, generation: str, *, storage: str, exclude: str, end: str) -> str:
    return (
        f"create version almalinux_ci/{definition}/9.6.2025052201 (hyperVGeneration {generation}, x64) in "
        f"resource group rg-alma-images from {BLOB}; regions {REGIONS}; storage {storage}; replication Full; "
        f"exclude from latest {exclude}; end of life {end}"
    )


def test_every_setting_that_shapes_a_version_reaches_the_plan() -> None:
    """Settings the orchestrator reads from the plan: dropping one would publish against it (a new
    image becoming "latest" although GALLERY_PUBLISHER_EXCLUDE_FROM_LATEST says no)."""
    settings = load_settings(
        {
            "GALLERY_PUBLISHER_EXCLUDE_FROM_LATEST": "true",
            "GALLERY_PUBLISHER_STORAGE_ACCOUNT_TYPE": "Premium_LRS",
            "GALLERY_PUBLISHER_VERSION_DEADLINE_MINUTES": "45",
            "GALLERY_PUBLISHER_POLL_SECONDS": "15",
            "GALLERY_PUBLISHER_UPLOAD_SETTLE_SECONDS": "30",
            "GALLERY_PUBLISHER_END_OF_LIFE_DATE": "2032-05-31",
        }
    )
    data = make_plan(PublishRequest(RAW_9), settings).to_json()
    assert data["exclude_from_latest"] is True
    assert data["storage_account_type"] == "Premium_LRS"
    assert (data["version_deadline_minutes"], data["poll_seconds"], data["upload_settle_seconds"]) == (
        45,
        15,
        30,
    )
    assert data["end_of_life_date"] == "2032-05-31"
    assert data["operations"][1] == _create(
        "almalinux-9-gen1", "V1", storage="Premium_LRS", exclude="true", end="2032-05-31"
    )


@pytest.mark.parametrize(("setting", "request_says"), [("true", False), ("false", True)])
def test_the_request_decides_exclude_from_latest_when_it_says_so(setting: str, request_says: bool) -> None:
    settings = load_settings({"GALLERY_PUBLISHER_EXCLUDE_FROM_LATEST": setting})
    plan = make_plan(PublishRequest(RAW_9, exclude_from_latest=request_says), settings)
    assert plan.exclude_from_latest is request_says


def test_the_plan_json_is_the_whole_contract_the_orchestrator_reads() -> None:
    data = make_plan(PublishRequest(RAW_9), SETTINGS).to_json()
    assert data == {
        "release_version": "9.6",
        "kitten": False,
        "timestamp": "20250522.0",
        "date": "20250522",
        "arch": "x86_64",
        "image_type": "default",
        "release_string": "AlmaLinux OS 9.6 x86_64",
        "source_kind": "raw",
        "source_url": RAW_9.split("?")[0],
        "family": "9-default",
        "container": "9-default",
        "blob_name": "almalinux-9.6-x86_64.20250522-01.vhd",
        "blob_url": BLOB,
        "upload_index": 1,
        "reuses_blob": False,
        "gallery": "almalinux_ci",
        "resource_group": "rg-alma-images",
        "public_requested": False,
        "public_refused": False,
        "public_refused_reason": "",
        "storage_account_id": "/subscriptions/{subscription}/resourceGroups/rg-alma-images/providers/"
        "Microsoft.Storage/storageAccounts/almalinux",
        "versions": [
            {
                "gallery": "almalinux_ci",
                "definition": f"almalinux-9-gen{n}",
                "version": "9.6.2025052201",
                "hyper_v_generation": f"V{n}",
                "architecture": "x64",
            }
            for n in (1, 2)
        ],
        "target_regions": [
            {"name": name, "replicas": 1}
            for name in ("eastus", "germanywestcentral", "westus2", "southeastasia", "southcentralus")
        ],
        "storage_account_type": "Standard_LRS",
        "replication_mode": "Full",
        "exclude_from_latest": False,
        "end_of_life_date": None,
        "version_deadline_minutes": 180,
        "poll_seconds": 60,
        "upload_settle_seconds": 120,
        "dry_run": True,
        "operations": [
            f"stage {RAW_9.split('?')[0]} as fixed VHD page blob {BLOB} (one pass: MD5 of the whole VHD, "
            "zero chunks skipped, Content-MD5 set last)",
            _create("almalinux-9-gen1", "V1", storage="Standard_LRS", exclude="false", end="none"),
            _create("almalinux-9-gen2", "V2", storage="Standard_LRS", exclude="false", end="none"),
            "wait for every version to replicate (durable timers, per-region progress)",
        ],
        "notes": [OFFLINE],
    }


def test_the_text_plan_says_dry_run_or_publish_and_numbers_the_operations_from_1() -> None:
    dry = make_plan(PublishRequest(RAW_9), SETTINGS)
    lines = dry.render_text().split("\n")
    assert lines[0] == "AlmaLinux OS 9.6 x86_64 `20250522.0` (DRY RUN: nothing will be written)"
    assert lines[1:8] == [
        "  image file:   AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw",
        "  family:       9-default (container 9-default)",
        f"  image URI:    {BLOB}",
        "  gallery:      almalinux_ci in rg-alma-images",
        f"  note:         {OFFLINE}",
        "Operations, in order:",
        f"  1. {dry.operations()[0]}",
    ]
    assert lines[-1] == "  4. wait for every version to replicate (durable timers, per-region progress)"
    real = make_plan(PublishRequest(RAW_9, dry_run=False), SETTINGS)
    assert real.render_text().split("\n")[0] == "AlmaLinux OS 9.6 x86_64 `20250522.0` (PUBLISH)"


def test_a_request_is_a_dry_run_to_the_ci_gallery_unless_it_says_otherwise() -> None:
    plan = make_plan(PublishRequest(RAW_9), SETTINGS)
    assert (plan.dry_run, plan.public_requested, plan.gallery) == (True, False, "almalinux_ci")
    assert (plan.public_refused, plan.public_refused_reason) == (False, "")


def test_a_public_request_for_a_family_that_may_be_public_is_not_refused() -> None:
    plan = make_plan(PublishRequest(RAW_9, public_gallery=True), SETTINGS)
    assert (plan.gallery, plan.public_refused, plan.public_refused_reason) == ("almalinux", False, "")


def test_url_type_raw_on_a_vhd_name_stages_a_fixed_copy() -> None:
    """A .vhd Azure cannot use as it is (a dynamic VHD, say) is staged like a RAW image."""
    plan = make_plan(PublishRequest(VHD_9, url_type=SourceKind.RAW), SETTINGS)
    assert plan.source_kind is SourceKind.RAW
    assert plan.blob_name == "almalinux-9.6-x86_64.20250522-01.vhd"
    assert plan.operations()[0].startswith(f"stage {VHD_9} as fixed VHD page blob ")


@pytest.mark.parametrize(("image", "kind"), [(RAW_9, SourceKind.RAW), (VHD_9, SourceKind.VHD)])
def test_url_type_that_agrees_with_the_name_is_kept(image: str, kind: SourceKind) -> None:
    assert make_plan(PublishRequest(image, url_type=kind), SETTINGS).source_kind is kind


def test_url_type_vhd_on_a_raw_name_is_refused_naming_the_fix() -> None:
    with pytest.raises(PublishError) as refused:
        make_plan(PublishRequest(RAW_9, url_type=SourceKind.VHD), SETTINGS)
    assert str(refused.value) == (
        "url_type is vhd but AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw is a .raw file name; "
        "set url_type to raw or leave it out: it is inferred from the name"
    )


def test_a_vhd_whose_version_exists_is_noted_and_only_a_vhd() -> None:
    """A re-run of a VHD input finds its version: a real run checks it comes from this blob."""
    note = "version 9.6.2025052203 already exists: a real run checks it comes from this blob"
    existing = ExistingState(version_names=("9.6.2025052203",))
    assert note in make_plan(PublishRequest(VHD_9), SETTINGS, existing).notes
    assert note not in make_plan(PublishRequest(VHD_9), SETTINGS).notes
    raw = make_plan(PublishRequest(RAW_9), SETTINGS, ExistingState(version_names=("9.6.2025052201",)))
    assert not any("already exists" in n for n in raw.notes)


def test_the_added_home_regions_are_listed_in_the_note() -> None:
    request = PublishRequest(RAW_9, target_regions=(TargetRegion("westus2", 2), TargetRegion("uksouth", 1)))
    plan = make_plan(request, SETTINGS, ExistingState(home_regions=("eastus", "northeurope")))
    assert plan.notes == (
        "target regions westus2=2, uksouth=1 leave out eastus, northeurope, the region of the image "
        "definitions; Azure requires a version's own region among its target regions, so eastus=1, "
        "northeurope=1 was added",
    )


def test_shallow_replication_offline_names_the_definitions_region_as_the_fix() -> None:
    request = PublishRequest(
        RAW_9,
        target_regions=(TargetRegion("eastus", 1), TargetRegion("westus2", 1)),
        replication_mode="Shallow",
    )
    with pytest.raises(PublishError) as refused:
        make_plan(request, SETTINGS)
    assert str(refused.value) == (
        "replication mode Shallow keeps the image in its own region only, with one replica, but the target "
        "regions would be eastus=1, westus2=1: set GALLERY_PUBLISHER_TARGET_REGIONS (or the request's "
        "target_regions) to the image definitions' region with 1 replica, or use replication mode Full"
    )


def test_regions_over_the_cap_are_refused_naming_target_regions() -> None:
    forged = PublishRequest(RAW_9, target_regions=(TargetRegion("eastus", 20), TargetRegion("westus2", 20)))
    with pytest.raises(PublishError, match=r"^target_regions: 40 replicas in all, over the cap of 30 "):
        make_plan(forged, SETTINGS)


def test_a_storage_account_id_is_compared_case_blind_and_trailing_slash_blind() -> None:
    """ARM resource ids are case-insensitive; a copied id may end with '/'."""
    settings = load_settings(
        {
            "GALLERY_PUBLISHER_STORAGE_ACCOUNT_ID": "/subscriptions/s/resourceGroups/rg/providers/"
            "Microsoft.Storage/storageAccounts/ALMALINUX/"
        }
    )
    assert make_plan(PublishRequest(RAW_9), settings).blob_url == BLOB


def test_an_end_of_life_in_the_request_wins_over_the_setting() -> None:
    settings = load_settings({"GALLERY_PUBLISHER_END_OF_LIFE_DATE": "2032-05-31"})
    data: dict[str, Any] = make_plan(
        PublishRequest(RAW_9, end_of_life_date=date(2030, 1, 1)), settings
    ).to_json()
    assert data["end_of_life_date"] == "2030-01-01"


def test_a_bare_vhd_name_is_the_blob_of_that_name_in_its_familys_container() -> None:
    """The command line may name a VHD without its URL: it is looked for where staging puts it."""
    plan = make_plan(PublishRequest("almalinux-9.6-arm64.20250522-01.vhd"), SETTINGS)
    assert (plan.container, plan.blob_url) == (
        "9-arm64",
        "https://almalinux.blob.core.windows.net/9-arm64/almalinux-9.6-arm64.20250522-01.vhd",
    )


def test_only_url_type_raw_on_a_vhd_name_is_a_conversion() -> None:
    assert converts_vhd(SourceKind.RAW, SourceKind.VHD)
    assert not converts_vhd(SourceKind.RAW, SourceKind.RAW)
    assert not converts_vhd(SourceKind.VHD, SourceKind.VHD)
    assert not converts_vhd(SourceKind.VHD, SourceKind.RAW)


def test_a_request_notifies_no_one_unless_it_says_so() -> None:
    assert PublishRequest(RAW_9).notify is False
