"""The gallery emulator answers the real azure-mgmt-compute SDK (and raw HTTP) as Azure does."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute import models as m

from gallery_publisher.planning.families import all_definitions
from gallery_publisher.planning.settings import load_settings
from local.gallery_emulator import Emulator, EmulatorConfig, running_emulator
from local.gallery_emulator.regions import DISPLAY_NAMES, display_name, normalize
from tests.support.gallery_support import (
    ACCOUNT_ID,
    CI,
    FAST,
    RG,
    SOURCE,
    sdk,
    version_body,
    version_json,
    wait_until,
)

IMAGE = "almalinux-9-gen2"
BEARER = {"Authorization": "Bearer test"}


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with running_emulator(FAST) as running:
        yield running


@pytest.fixture
def client(emulator: Emulator) -> ComputeManagementClient:
    return sdk(emulator.base_url)


def _version_url(emulator: Emulator, version: str, image: str = IMAGE) -> str:
    return (
        f"{emulator.base_url}/subscriptions/sub/resourceGroups/{RG}/providers/Microsoft.Compute/galleries/"
        f"{CI}/images/{image}/versions/{version}?api-version=2026-03-03"
    )


def test_seeds_every_family_definition_in_both_galleries(client: ComputeManagementClient) -> None:
    for gallery in ("almalinux_ci", "almalinux"):
        images = {i.name: i for i in client.gallery_images.list_by_gallery(RG, gallery)}
        assert set(images) == {d.name for d in all_definitions()}
        for definition in all_definitions():
            properties = images[definition.name].properties
            assert properties is not None
            assert (properties.os_type, properties.os_state) == ("Linux", "Generalized")
            assert properties.hyper_v_generation == definition.hyper_v_generation
            assert properties.architecture == definition.architecture


def test_sdk_create_and_delete_run_to_completion(client: ComputeManagementClient) -> None:
    poller = client.gallery_image_versions.begin_create_or_update(
        RG, CI, IMAGE, "9.6.2025052201", version_body()
    )
    version = poller.result()  # the SDK's own LRO: status URL, then its final GET
    assert version.properties is not None
    assert version.properties.provisioning_state == "Succeeded"
    assert version.properties.replication_status is None  # only with $expand
    profile = version.properties.publishing_profile
    assert profile is not None and profile.target_regions is not None
    regions = [r.name for r in profile.target_regions]
    assert regions == ["East US", "West US 2"]
    client.gallery_image_versions.begin_delete(RG, CI, IMAGE, "9.6.2025052201").result()
    with pytest.raises(ResourceNotFoundError):
        client.gallery_image_versions.get(RG, CI, IMAGE, "9.6.2025052201")


def test_replication_progress_rises_in_every_region_until_succeeded(client: ComputeManagementClient) -> None:
    regions = ("eastus", "germanywestcentral", "westus2", "southeastasia", "southcentralus")
    client.gallery_image_versions.begin_create_or_update(
        RG, CI, IMAGE, "9.6.2025052202", version_body(regions=regions), polling=False
    )
    seen: dict[str, list[int]] = {}
    states: list[object] = []
    while True:
        version = client.gallery_image_versions.get(
            RG, CI, IMAGE, "9.6.2025052202", expand="ReplicationStatus"
        )
        assert version.properties is not None and version.properties.replication_status is not None
        states.append(version.properties.provisioning_state)
        for region in version.properties.replication_status.summary or []:
            seen.setdefault(str(region.region), []).append(int(region.progress or 0))
        if states[-1] != "Creating":
            break
        time.sleep(0.05)
    assert states[0] == "Creating" and states[-1] == "Succeeded"
    assert version.properties.replication_status.aggregated_state == "Completed"
    assert set(seen) == {"East US", "Germany West Central", "West US 2", "Southeast Asia", "South Central US"}
    for progress in seen.values():
        assert progress == sorted(progress)  # never goes back
        assert any(0 < p < 100 for p in progress)  # seen part way
        assert progress[-1] == 100


def test_lro_headers_and_status_resource_follow_the_arm_protocol(emulator: Emulator) -> None:
    session = requests.Session()
    put = session.put(
        _version_url(emulator, "9.6.2025052203"), json=version_json(), headers=BEARER, timeout=5
    )
    assert put.status_code == 201
    assert put.json()["properties"]["provisioningState"] == "Creating"
    status_url = put.headers["Azure-AsyncOperation"]
    assert status_url.startswith(
        emulator.base_url + "/subscriptions/sub/providers/Microsoft.Compute/locations/eastus/"
    )
    assert "capsOperations" in status_url and "Location" not in put.headers
    assert put.headers["Retry-After"] == "1"
    get = session.get(_version_url(emulator, "9.6.2025052203"), headers=BEARER, timeout=5)
    assert "Retry-After" not in get.headers  # only LRO and 429 answers carry it
    running = session.get(status_url, headers=BEARER, timeout=5).json()
    assert running["status"] == "InProgress" and "startTime" in running
    wait_until(lambda: session.get(status_url, headers=BEARER, timeout=5).json()["status"] == "Succeeded")
    again = session.put(
        _version_url(emulator, "9.6.2025052203"), json=version_json(), headers=BEARER, timeout=5
    )
    assert again.status_code == 200  # an existing version: 200, not 201
    delete = session.delete(_version_url(emulator, "9.6.2025052203"), headers=BEARER, timeout=5)
    assert delete.status_code == 202
    assert "monitor=true" in delete.headers["Location"] and "Azure-AsyncOperation" in delete.headers
    wait_until(lambda: session.get(delete.headers["Location"], headers=BEARER, timeout=5).status_code == 200)


def test_requests_without_a_bearer_token_are_refused(emulator: Emulator) -> None:
    response = requests.get(_version_url(emulator, "1.0.0"), timeout=5)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AuthenticationFailed"


@pytest.mark.parametrize("name", ["1.0", "1.0.0.0", "a.b.c", "9.6.2147483648", "1.-1.0", "9.6.99999999999"])
def test_bad_version_names_are_invalid_parameter(client: ComputeManagementClient, name: str) -> None:
    with pytest.raises(HttpResponseError) as caught:
        client.gallery_image_versions.begin_create_or_update(
            RG, CI, IMAGE, name, version_body(), polling=False
        )
    assert caught.value.status_code == 400
    assert caught.value.error is not None
    assert caught.value.error.code == "InvalidParameter"
    assert caught.value.error.target == "galleryImageVersionName"
    assert "2,147,483,647" in str(caught.value.error.message)


def test_largest_version_part_is_accepted(client: ComputeManagementClient) -> None:
    client.gallery_image_versions.begin_create_or_update(
        RG, CI, IMAGE, "9.6.2147483647", version_body(), polling=False
    )
    assert client.gallery_image_versions.get(RG, CI, IMAGE, "9.6.2147483647").name == "9.6.2147483647"


def test_missing_gallery_or_definition_is_parent_resource_not_found(client: ComputeManagementClient) -> None:
    for gallery, image in (("nosuchgallery", IMAGE), (CI, "almalinux-99-gen2")):
        with pytest.raises(ResourceNotFoundError) as caught:
            client.gallery_image_versions.begin_create_or_update(
                RG, gallery, image, "1.0.0", version_body(), polling=False
            )
        assert caught.value.error is not None and caught.value.error.code == "ParentResourceNotFound"


def test_re_put_with_another_source_is_property_change_not_allowed(client: ComputeManagementClient) -> None:
    versions = client.gallery_image_versions
    versions.begin_create_or_update(RG, CI, IMAGE, "9.6.2025052204", version_body(), polling=False)
    with pytest.raises(ResourceExistsError) as caught:  # the SDK maps every 409 to ResourceExistsError
        versions.begin_create_or_update(
            RG, CI, IMAGE, "9.6.2025052204", version_body(SOURCE + "x"), polling=False
        )
    assert caught.value.error is not None and caught.value.error.code == "PropertyChangeNotAllowed"


def test_source_under_storage_profile_source_is_refused_as_azure_does(emulator: Emulator) -> None:
    body = version_json()
    body["properties"]["storageProfile"] = {"source": {"uri": SOURCE}}
    response = requests.put(_version_url(emulator, "1.0.0"), json=body, headers=BEARER, timeout=5)
    assert response.status_code == 400
    assert "Could not find member 'uri'" in response.json()["error"]["message"]


def test_failed_region_fails_the_version_which_must_be_deleted_before_re_creation(
    emulator: Emulator, client: ComputeManagementClient
) -> None:
    emulator.set_faults(fail_regions=["West US 2"])
    versions = client.gallery_image_versions
    poller = versions.begin_create_or_update(RG, CI, IMAGE, "9.6.2025052205", version_body())
    with pytest.raises(HttpResponseError) as caught:
        poller.result()
    assert "West US 2" in str(caught.value)
    failed = versions.get(RG, CI, IMAGE, "9.6.2025052205", expand="ReplicationStatus")
    assert failed.properties is not None and failed.properties.provisioning_state == "Failed"
    summary = {r.region: r.state for r in failed.properties.replication_status.summary}  # type: ignore[union-attr]
    assert summary == {"East US": "Completed", "West US 2": "Failed"}
    with pytest.raises(ResourceExistsError) as refused:
        versions.begin_create_or_update(RG, CI, IMAGE, "9.6.2025052205", version_body(), polling=False)
    assert refused.value.error is not None and "delete it" in str(refused.value.error.message)
    emulator.set_faults(fail_regions=[])
    versions.begin_delete(RG, CI, IMAGE, "9.6.2025052205").result()
    assert versions.begin_create_or_update(RG, CI, IMAGE, "9.6.2025052205", version_body()).result().name


def test_injected_provisioning_failure_ends_the_operation_failed(
    emulator: Emulator, client: ComputeManagementClient
) -> None:
    emulator.set_faults(fail_provisioning=True)
    poller = client.gallery_image_versions.begin_create_or_update(
        RG, CI, IMAGE, "9.6.2025052206", version_body()
    )
    with pytest.raises(HttpResponseError) as caught:
        poller.result()
    assert "InternalExecutionError" in str(caught.value)


def test_throttling_answers_429_with_retry_after(emulator: Emulator, client: ComputeManagementClient) -> None:
    emulator.set_faults(throttle_every=2, throttle_retry_after=7)
    client.gallery_images.get(RG, CI, IMAGE)  # request 1 passes
    with pytest.raises(HttpResponseError) as caught:
        client.gallery_images.get(RG, CI, IMAGE)  # request 2 is throttled; the SDK does not sleep 7 s
    assert caught.value.status_code == 429
    assert cast(Any, caught.value.response).headers["Retry-After"] == "7"
    assert caught.value.error is not None and caught.value.error.code == "OperationNotAllowed"
    assert json.loads(emulator_state(emulator))["faults"]["throttle_every"] == 2
    refused = requests.post(f"{emulator.base_url}/_emulator/faults", json={"throttle_evry": 1}, timeout=5)
    assert refused.status_code == 400 and "throttle_evry" in refused.text


def emulator_state(emulator: Emulator) -> str:
    return requests.get(f"{emulator.base_url}/_emulator/state", timeout=5).text


def test_list_pages_with_next_link() -> None:
    with running_emulator(replace(FAST, page_size=2)) as emulator:
        client = sdk(emulator.base_url)
        names = [f"1.0.{n}" for n in range(5)]
        for name in names:
            client.gallery_image_versions.begin_create_or_update(
                RG, CI, IMAGE, name, version_body(), polling=False
            )
        pages = list(client.gallery_image_versions.list_by_gallery_image(RG, CI, IMAGE).by_page())
        assert [len(list(page)) for page in pages] == [2, 2, 1]
        listed = [v.name for v in client.gallery_image_versions.list_by_gallery_image(RG, CI, IMAGE)]
        assert sorted(str(n) for n in listed) == names


def test_galleries_and_definitions_are_created_and_deleted_through_the_sdk(
    client: ComputeManagementClient,
) -> None:
    client.galleries.begin_create_or_update(RG, "scratch", m.Gallery({"location": "westus2"})).result()
    image: dict[str, Any] = {
        "location": "westus2",
        "properties": {
            "osType": "Linux",
            "osState": "Generalized",
            "hyperVGeneration": "V2",
            "architecture": "Arm64",
            "identifier": {"publisher": "p", "offer": "o", "sku": "s"},
        },
    }
    created = client.gallery_images.begin_create_or_update(
        RG, "scratch", "arm", m.GalleryImage(image)
    ).result()
    assert created.properties is not None and created.properties.architecture == "Arm64"
    with pytest.raises(ResourceExistsError):
        client.galleries.begin_delete(RG, "scratch").result()  # it still holds a definition
    client.gallery_images.begin_delete(RG, "scratch", "arm").result()
    client.galleries.begin_delete(RG, "scratch").result()
    assert "scratch" not in [g.name for g in client.galleries.list_by_resource_group(RG)]


def test_command_line_prints_its_url_and_loads_a_seed_file_and_faults(tmp_path: Path) -> None:
    seed = {
        "resourceGroups": [{"name": "rg-test", "galleries": [{"name": "g1", "images": [{"name": "only"}]}]}]
    }
    (tmp_path / "seed.json").write_text(json.dumps(seed))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local.gallery_emulator",
            "--port",
            "0",
            "--seed",
            str(tmp_path / "seed.json"),
            "--faults",
            '{"fail_regions": ["West US 2"]}',
            "--storage-account-id",
            ACCOUNT_ID,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        names = [i.name for i in sdk(base_url).gallery_images.list_by_gallery("rg-test", "g1")]
        assert names == ["only"]
        faults = requests.get(f"{base_url}/_emulator/faults", timeout=5).json()
        assert faults["fail_regions"] == ["westus2"]
        created = sdk(base_url).gallery_image_versions.begin_create_or_update(
            "rg-test", "g1", "only", "1.0.0", version_body(), polling=False
        )  # its storageAccountId is the one given on the command line
        assert created.result().name == "1.0.0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _refused(client: ComputeManagementClient, body: dict[str, Any], version: str = "1.0.0") -> Any:
    """The 400 the emulator answers a version PUT with (through the real SDK)."""
    with pytest.raises(HttpResponseError) as caught:
        client.gallery_image_versions.begin_create_or_update(
            RG, CI, IMAGE, version, m.GalleryImageVersion(body), polling=False
        )
    assert caught.value.status_code == 400, caught.value
    assert caught.value.error is not None
    return caught.value.error


def test_target_regions_without_the_versions_own_region_are_refused(client: ComputeManagementClient) -> None:
    error = _refused(client, version_json(regions=("westus2", "germanywestcentral")))
    assert error.code == "InvalidParameter"
    assert (
        "publishing profile regions West US 2, Germany West Central must contain the location of image "
        "version East US" in error.message
    )
    assert error.target == "galleryImageVersion.properties.publishingProfile.targetRegions"


def test_no_target_regions_means_the_home_region(client: ComputeManagementClient) -> None:
    body = version_json()
    del body["properties"]["publishingProfile"]["targetRegions"]
    client.gallery_image_versions.begin_create_or_update(
        RG, CI, IMAGE, "1.0.1", m.GalleryImageVersion(body), polling=False
    )
    version: Any = client.gallery_image_versions.get(RG, CI, IMAGE, "1.0.1")
    assert [r.name for r in version.properties.publishing_profile.target_regions] == ["East US"]


@pytest.mark.parametrize(
    "targets",
    [
        [{"name": "eastus", "regionalReplicaCount": 1}, {"name": "westus2", "regionalReplicaCount": 1}],
        [{"name": "eastus", "regionalReplicaCount": 2}],
        [{"name": "West US 2", "regionalReplicaCount": 1}],
    ],
)
def test_shallow_replication_beyond_one_home_replica_is_refused(
    client: ComputeManagementClient, targets: list[dict[str, Any]]
) -> None:
    body = version_json()
    body["properties"]["publishingProfile"].update(replicationMode="Shallow", targetRegions=targets)
    error = _refused(client, body)
    assert error.code == "InvalidParameter"
    assert (
        "must contain the location" in error.message
        or "Shallow replication is only supported" in error.message
    )


def test_shallow_replication_with_one_home_replica_is_created(client: ComputeManagementClient) -> None:
    body = version_json(regions=("eastus",))
    body["properties"]["publishingProfile"]["replicationMode"] = "Shallow"
    created = client.gallery_image_versions.begin_create_or_update(
        RG, CI, IMAGE, "1.0.2", m.GalleryImageVersion(body)
    )
    version = created.result()
    assert version.properties is not None and version.properties.publishing_profile is not None
    assert version.properties.publishing_profile.replication_mode == "Shallow"


OTHER_ACCOUNT_ID = ACCOUNT_ID.replace("devstoreaccount1", "otheraccount")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"uri": SOURCE}, "storageAccountId' is missing"),
        ({"uri": SOURCE, "storageAccountId": ""}, "storageAccountId' is missing"),
        ({"uri": SOURCE, "storageAccountId": ACCOUNT_ID, "id": ACCOUNT_ID}, "Remove source.id"),
        ({"uri": SOURCE, "storageAccountId": "devstoreaccount1"}, "Expect a storage account resource id"),
        ({"uri": SOURCE, "storageAccountId": OTHER_ACCOUNT_ID}, "is in storage account 'devstoreaccount1'"),
        (
            {"uri": SOURCE, "storageAccountId": ACCOUNT_ID.replace("/sub/", "/another-subscription/")},
            "was not found",
        ),
    ],
)
def test_a_vhd_source_needs_the_storage_account_holding_it_and_no_source_id(
    client: ComputeManagementClient, source: dict[str, str], message: str
) -> None:
    body = version_json()
    body["properties"]["storageProfile"]["osDiskImage"]["source"] = source
    error = _refused(client, body)
    assert error.code == "InvalidParameter" and message in error.message
    assert str(error.target).startswith("properties.storageProfile.osDiskImage.source.")


def test_the_default_storage_account_is_the_apps_default(client: ComputeManagementClient) -> None:
    assert EmulatorConfig().storage_account_id == load_settings({}).storage_account_id
    account_id = load_settings({}).storage_account_id
    source = "https://almalinux.blob.core.windows.net/9-default/almalinux-9.6-x86_64.20250522-01.vhd"
    with running_emulator(EmulatorConfig(time_scale=0.002)) as default:
        default_client = sdk(default.base_url)
        body = version_json(source)
        body["properties"]["storageProfile"]["osDiskImage"]["source"]["storageAccountId"] = account_id
        default_client.gallery_image_versions.begin_create_or_update(
            RG, CI, IMAGE, "1.0.3", m.GalleryImageVersion(body), polling=False
        )
        assert (
            _refused(default_client, version_json(), "1.0.4").code == "InvalidParameter"
        )  # devstoreaccount1


@pytest.mark.parametrize(
    "region",
    [
        "polandcentral",
        "Israel Central",
        "newzealandnorth",
        "Chile Central",
        "jioindiawest",
        "australiacentral2",
    ],
)
def test_every_public_region_is_accepted(client: ComputeManagementClient, region: str) -> None:
    body = version_json(regions=("eastus", region))
    version = client.gallery_image_versions.begin_create_or_update(
        RG, CI, IMAGE, "1.0.5", m.GalleryImageVersion(body), polling=False
    ).result()
    assert version.name == "1.0.5"


@pytest.mark.parametrize("region", ["chinaeast2", "usgovvirginia", "global", "eastus2euap", "westus9"])
def test_sovereign_logical_and_unknown_regions_are_refused(
    client: ComputeManagementClient, region: str
) -> None:
    error = _refused(client, version_json(regions=("eastus", region)))
    assert error.code == "LocationNotAvailableForResourceType" and region in error.message


def test_the_region_table_names_each_region_in_both_forms() -> None:
    assert len(DISPLAY_NAMES) >= 60
    for name, display in DISPLAY_NAMES.items():
        assert normalize(display) == name and display_name(name) == display


def test_a_put_on_a_version_still_being_created_is_a_conflict(client: ComputeManagementClient) -> None:
    versions = client.gallery_image_versions
    versions.begin_create_or_update(RG, CI, IMAGE, "1.0.6", version_body(), polling=False)
    with pytest.raises(ResourceExistsError) as caught:
        versions.begin_create_or_update(RG, CI, IMAGE, "1.0.6", version_body(), polling=False)
    assert caught.value.status_code == 409
    assert caught.value.error is not None and caught.value.error.code == "Conflict"
    wait_until(lambda: versions.get(RG, CI, IMAGE, "1.0.6").properties.provisioning_state == "Succeeded")  # type: ignore[union-attr]
    regions = ("eastus", "westus2", "westus3")
    again = versions.begin_create_or_update(
        RG, CI, IMAGE, "1.0.6", version_body(regions=regions), polling=False
    )
    updated: Any = again.result()  # a finished version takes the update (a new target region)
    assert updated.properties.provisioning_state == "Updating"
