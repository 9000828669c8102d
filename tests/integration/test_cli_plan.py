"""`gallery-publisher plan` and the old script's flags, run as a user would run them."""

from __future__ import annotations

import json

import pytest

from tests.support.cli_process import run_cli

REQUIRED_KEYS = {
    "release_version", "timestamp", "arch", "image_type", "release_string", "source_kind", "container",
    "blob_name", "blob_url", "gallery", "resource_group", "public_refused", "versions", "target_regions",
}  # fmt: skip


def plan_json(*args: str) -> dict[str, object]:
    result = run_cli("plan", "--offline", "--json", *args)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    data: dict[str, object] = json.loads(lines[0])
    return data


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("https://b.s3.amazonaws.com/AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw?X-Amz-Signature=S", {
            "release_version": "9.6", "timestamp": "20250522.0", "arch": "x86_64", "image_type": "default",
            "release_string": "AlmaLinux OS 9.6 x86_64", "source_kind": "raw", "container": "9-default",
            "blob_name": "almalinux-9.6-x86_64.20250522-01.vhd",
            "blob_url": "https://almalinux.blob.core.windows.net/9-default/almalinux-9.6-x86_64.20250522-01.vhd",
            "gallery": "almalinux_ci", "resource_group": "rg-alma-images", "public_refused": False,
            "versions": [
                {"gallery": "almalinux_ci", "definition": "almalinux-9-gen1", "version": "9.6.2025052201",
                 "hyper_v_generation": "V1", "architecture": "x64"},
                {"gallery": "almalinux_ci", "definition": "almalinux-9-gen2", "version": "9.6.2025052201",
                 "hyper_v_generation": "V2", "architecture": "x64"},
            ]}),
        ("AlmaLinux-Kitten-Azure-10-20250813.0.aarch64.raw", {
            "release_version": "10", "arch": "aarch64", "image_type": "arm64", "container": "kitten-10",
            "release_string": "AlmaLinux Kitten OS 10 aarch64",
            "blob_name": "AlmaLinux-Kitten-Azure-10-20250813.0.aarch64.vhd",
            "versions": [{"gallery": "almalinux_ci", "definition": "almalinux-ci-kitten-10-arm64-gen2",
                          "version": "10.20250813.0", "hyper_v_generation": "V2", "architecture": "Arm64"}]}),
        ("AlmaLinux-10-Azure-10.0-20250529.0-64k.aarch64.vhd", {
            "release_version": "10.0", "image_type": "arm64-64k", "source_kind": "vhd", "container": "almalinux-10",
            "blob_name": None,
            "blob_url": "https://almalinux.blob.core.windows.net/almalinux-10/AlmaLinux-10-Azure-10.0-20250529.0-64k.aarch64.vhd",
            "versions": [{"gallery": "almalinux_ci", "definition": "almalinux-ci-10-arm64-64k-gen2",
                          "version": "10.0.202505290", "hyper_v_generation": "V2", "architecture": "Arm64"}]}),
        ("almalinux-9.6-arm64.20250522-01.vhd", {
            "release_version": "9.6", "arch": "arm64", "image_type": "arm64", "source_kind": "vhd",
            "container": "9-arm64", "blob_name": None,
            "versions": [{"gallery": "almalinux_ci", "definition": "almalinux-9-arm64", "version": "9.6.2025052201",
                          "hyper_v_generation": "V2", "architecture": "Arm64"}]}),
        ("AlmaLinux-Azure-9.6-202505220-64k.aarch64.vhd", {
            "release_version": "9.6", "image_type": "arm64-64k", "container": "9-arm64-64k",
            "versions": [{"gallery": "almalinux_ci", "definition": "almalinux-9-arm64-64k", "version": "9.6.202505220",
                          "hyper_v_generation": "V2", "architecture": "Arm64"}]}),
    ],
)  # fmt: skip
def test_plan_json_for_every_name_pattern(image: str, expected: dict[str, object]) -> None:
    data = plan_json(image)
    assert data.keys() >= REQUIRED_KEYS
    assert {key: data[key] for key in expected} == expected
    assert data["target_regions"] == [
        {"name": region, "replicas": 1}
        for region in ("eastus", "germanywestcentral", "westus2", "southeastasia", "southcentralus")
    ]
    assert "X-Amz-Signature" not in json.dumps(data)


def test_public_gallery_flag_and_its_refusal() -> None:
    assert (
        plan_json("--public-gallery", "AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw")["gallery"] == "almalinux"
    )
    refused = plan_json("--public-gallery", "AlmaLinux-Kitten-Azure-10-20250813.0.x86_64.raw")
    assert (refused["gallery"], refused["public_refused"]) == ("almalinux_ci", True)


def test_text_plan_lists_the_operations() -> None:
    result = run_cli("plan", "--offline", "AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw")
    assert result.returncode == 0
    assert "DRY RUN" in result.stdout
    assert "create version almalinux_ci/almalinux-9-gen2/9.6.2025052201" in result.stdout


def test_unparsable_name_exits_2_with_one_line_and_no_stdout() -> None:
    result = run_cli("plan", "--offline", "--json", "AlmaLinux-9-Azure-9.6-20250522.0.ppc64le.raw")
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Could not parse filename 'AlmaLinux-9-Azure-9.6-20250522.0.ppc64le.raw'" in result.stderr


def test_bad_setting_exits_2_naming_the_variable() -> None:
    result = run_cli(
        "plan", "--offline", "AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw",
        env={"GALLERY_PUBLISHER_REPLICATION_MODE": "Partial"},
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stdout == ""
    assert "GALLERY_PUBLISHER_REPLICATION_MODE" in result.stderr


def test_settings_from_the_environment_reach_the_plan() -> None:
    result = run_cli(
        "plan", "--offline", "--json", "AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw",
        env={"GALLERY_PUBLISHER_TARGET_REGIONS": "westeurope=2", "GALLERY_PUBLISHER_CI_GALLERY": "test_gallery"},
    )  # fmt: skip
    data = json.loads(result.stdout)
    assert data["target_regions"] == [{"name": "westeurope", "replicas": 2}]
    assert data["gallery"] == "test_gallery"


def test_old_script_flags_map_onto_the_plan() -> None:
    result = run_cli(
        "-d", "9.6", "-t", "default", "-i", "AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw", "-g", "almalinux"
    )
    assert result.returncode == 0, result.stderr
    assert "create version almalinux/almalinux-9-gen1/9.6.2025052201" in result.stdout
    assert "DRY RUN" in result.stdout


def test_old_script_flags_for_a_vhd_uri_and_a_resource_group() -> None:
    uri = "https://almalinux.blob.core.windows.net/9-arm64/almalinux-9.6-arm64.20250522-01.vhd"
    result = run_cli("-d", "9.6", "-t", "arm64", "-u", uri, "-r", "rg-other")
    assert result.returncode == 0, result.stderr
    assert "validate VHD blob" in result.stdout
    assert "in resource group rg-other" in result.stdout


def test_old_script_flags_that_contradict_the_name_are_refused() -> None:
    result = run_cli("-d", "9.5", "-t", "default", "-i", "AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw")
    assert result.returncode == 2
    assert "-d 9.5 does not match" in result.stderr


def test_kitten_is_release_10_for_the_old_flags() -> None:
    result = run_cli("-d", "10", "-t", "arm64", "-i", "AlmaLinux-Kitten-Azure-10-20250813.0.aarch64.raw")
    assert result.returncode == 0, result.stderr
    assert "almalinux-ci-kitten-10-arm64-gen2/10.20250813.0" in result.stdout


def test_old_force_flag_points_to_submit() -> None:
    result = run_cli("-d", "9.6", "-t", "default", "-i", "AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw", "-f")
    assert result.returncode == 2
    assert "gallery-publisher submit IMAGE_URL --no-dry-run" in result.stderr
    assert result.stdout == ""
