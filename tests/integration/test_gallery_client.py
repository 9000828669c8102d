"""The gallery client against the emulator, through the real SDK: it never blocks, never duplicates
a version, reports per-region progress and hands throttling back as a wait."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.mgmt.compute import ComputeManagementClient
from azure.storage.blob import BlobServiceClient

from gallery_publisher import __version__
from gallery_publisher.errors import SettingsError
from gallery_publisher.gallery.arm_client import (
    LOCAL_SUBSCRIPTION_ID,
    RETRY_OPTIONS,
    LocalBearerPolicy,
    LocalTokenCredential,
    compute_client,
)
from gallery_publisher.gallery.client import (
    DEFAULT_RETRY_AFTER,
    GalleryClient,
    GalleryError,
    GalleryRetryableError,
)
from gallery_publisher.gallery.records import (
    DefinitionTarget,
    PollOutcome,
    StartOutcome,
    VersionRef,
    VersionSpec,
    publish_tags,
)
from gallery_publisher.jobs.messages import VersionJob
from gallery_publisher.planning.families import DefinitionSpec, all_definitions
from gallery_publisher.planning.plan import PublishRequest
from gallery_publisher.planning.settings import Settings, TargetRegion
from gallery_publisher.publishing import Services, prepare_job, version_spec
from local.gallery_emulator import Emulator, running_emulator
from tests.support.gallery_support import (
    ACCOUNT_ID,
    CI,
    FAST,
    RG,
    SOURCE,
    local_settings,
    poll_until_finished,
)

REGIONS = (TargetRegion("eastus", 1), TargetRegion("westus2", 2))


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with running_emulator(FAST) as running:
        yield running


@pytest.fixture
def gallery(emulator: Emulator) -> GalleryClient:
    return GalleryClient(compute_client(local_settings(emulator.base_url)), RG)


def spec(
    definition: str = "almalinux-9-gen2", version: str = "9.6.2025052201", source: str = SOURCE
) -> VersionSpec:
    return VersionSpec(CI, definition, version, "eastus", source, ACCOUNT_ID, REGIONS,
                       tags=publish_tags(source, "abc123", "0.1.0"))  # fmt: skip


def test_preflight_accepts_every_family_definition(gallery: GalleryClient) -> None:
    found = gallery.preflight([DefinitionTarget(CI, d) for d in all_definitions()])
    assert {f.name for f in found} == {d.name for d in all_definitions()}
    assert {f.location for f in found} == {"eastus"}


def test_preflight_names_missing_and_mismatched_definitions() -> None:
    seed = {
        "resourceGroups": [
            {
                "name": RG,
                "galleries": [
                    {
                        "name": CI,
                        "images": [
                            {"name": "almalinux-9-gen2", "hyperVGeneration": "V1", "architecture": "x64"},
                            {"name": "almalinux-9-arm64", "hyperVGeneration": "V2", "architecture": "x64"},
                        ],
                    }
                ],
            }
        ]
    }
    with running_emulator(FAST, seed) as emulator:
        gallery = GalleryClient(compute_client(local_settings(emulator.base_url)), RG)
        targets = [
            DefinitionTarget(CI, DefinitionSpec("almalinux-9-gen2", "V2", "x64")),
            DefinitionTarget(CI, DefinitionSpec("almalinux-9-arm64", "V2", "Arm64")),
            DefinitionTarget(CI, DefinitionSpec("almalinux-9-gen1", "V1", "x64")),
        ]
        with pytest.raises(GalleryError) as caught:
            gallery.preflight(targets)
    message = str(caught.value)
    assert "almalinux_ci/almalinux-9-gen2 has hyperVGeneration V1, but this image needs V2" in message
    assert "almalinux_ci/almalinux-9-arm64 has architecture x64, but this image needs Arm64" in message
    assert "almalinux_ci/almalinux-9-gen1 does not exist" in message


def test_start_returns_at_once_and_polling_reaches_succeeded_with_progress(gallery: GalleryClient) -> None:
    began = time.monotonic()
    started = gallery.start_version(spec())
    assert time.monotonic() - began < 1.0  # never waits for the operation
    assert started.outcome == StartOutcome.STARTED
    assert started.operation_url is not None and "capsOperations" in started.operation_url
    statuses = poll_until_finished(gallery, started.ref, started.operation_url)
    assert statuses[0].provisioning_state == "Creating"
    final = statuses[-1]
    assert final.outcome == PollOutcome.SUCCEEDED and final.aggregated_state == "Completed"
    assert [(r.region, r.state, r.progress) for r in final.regions] == [
        ("East US", "Completed", 100),
        ("West US 2", "Completed", 100),
    ]
    partway = [r.progress for s in statuses for r in s.regions if 0 < r.progress < 100]
    assert partway, "progress was never seen between 0 and 100"


def test_both_generations_publish_at_once_from_one_source(gallery: GalleryClient) -> None:
    refs = [
        gallery.start_version(spec(definition)).ref for definition in ("almalinux-9-gen1", "almalinux-9-gen2")
    ]
    finals = [poll_until_finished(gallery, ref)[-1] for ref in refs]
    assert [f.outcome for f in finals] == [PollOutcome.SUCCEEDED, PollOutcome.SUCCEEDED]
    for definition in ("almalinux-9-gen1", "almalinux-9-gen2"):
        assert [
            (v.name, v.provisioning_state, v.source_uri) for v in gallery.list_versions(CI, definition)
        ] == [("9.6.2025052201", "Succeeded", SOURCE)]


def test_same_request_again_adopts_a_running_version_and_reports_a_finished_one(
    gallery: GalleryClient,
) -> None:
    assert gallery.start_version(spec()).outcome == StartOutcome.STARTED
    assert gallery.start_version(spec()).outcome == StartOutcome.ADOPTED
    poll_until_finished(gallery, spec().ref)
    assert gallery.start_version(spec()).outcome == StartOutcome.DONE
    assert len(gallery.list_versions(CI, "almalinux-9-gen2")) == 1


def test_existing_version_from_another_source_is_an_error_naming_both(gallery: GalleryClient) -> None:
    gallery.start_version(spec())
    other = "http://127.0.0.1:1/devstoreaccount1/9-default/other.vhd?sv=2024&sig=SECRET"
    with pytest.raises(GalleryError) as caught:
        gallery.start_version(spec(source=other))
    message = str(caught.value)
    assert SOURCE in message and "9-default/other.vhd" in message
    assert "SECRET" not in message


def test_missing_definition_is_an_error_naming_it(gallery: GalleryClient) -> None:
    with pytest.raises(GalleryError, match="almalinux_ci/almalinux-99-gen2 does not exist"):
        gallery.start_version(spec("almalinux-99-gen2"))


def test_failed_region_is_reported_with_the_azure_error(emulator: Emulator, gallery: GalleryClient) -> None:
    emulator.set_faults(fail_regions=["westus2"])
    started = gallery.start_version(spec())
    final = poll_until_finished(gallery, started.ref, started.operation_url)[-1]
    assert final.outcome == PollOutcome.FAILED
    assert final.error_code == "GalleryReplicationFailed"
    assert final.error_message is not None and "West US 2" in final.error_message
    assert {r.region: r.state for r in final.regions} == {"East US": "Completed", "West US 2": "Failed"}
    # Without the operation URL (an adopted version) the failed regions still explain it.
    adopted_view = gallery.poll_version(started.ref)
    assert adopted_view.error_message is not None and "West US 2" in adopted_view.error_message


def test_failed_version_is_replaced_only_when_allowed(emulator: Emulator, gallery: GalleryClient) -> None:
    emulator.set_faults(fail_provisioning=True)
    poll_until_finished(gallery, gallery.start_version(spec()).ref)
    with pytest.raises(GalleryError, match="Failed state"):
        gallery.start_version(spec())
    emulator.set_faults(fail_provisioning=False)
    outcomes = [gallery.start_version(spec(), replace_failed=True)]
    assert outcomes[0].outcome == StartOutcome.DELETING and outcomes[0].operation_url
    while outcomes[-1].outcome == StartOutcome.DELETING:  # deletion is an operation too: poll, never block
        time.sleep(0.05)
        outcomes.append(gallery.start_version(spec(), replace_failed=True))
    assert outcomes[-1].outcome == StartOutcome.STARTED
    assert poll_until_finished(gallery, spec().ref)[-1].outcome == PollOutcome.SUCCEEDED


def test_throttling_comes_back_as_a_wait_without_sleeping(emulator: Emulator, gallery: GalleryClient) -> None:
    emulator.set_faults(throttle_every=1, throttle_retry_after=40)
    began = time.monotonic()
    started = gallery.start_version(spec())
    polled = gallery.poll_version(spec().ref)
    assert time.monotonic() - began < 2.0  # the SDK did not sleep the 40 s itself
    assert (started.outcome, started.retry_after) == (StartOutcome.RETRY, 40.0)
    assert (polled.outcome, polled.retry_after) == (PollOutcome.RETRY, 40.0)
    with pytest.raises(GalleryRetryableError) as caught:
        gallery.list_versions(CI, "almalinux-9-gen2")
    assert caught.value.retry_after == 40.0
    with pytest.raises(GalleryRetryableError):
        gallery.preflight([DefinitionTarget(CI, DefinitionSpec("almalinux-9-gen2", "V2", "x64"))])
    emulator.set_faults(throttle_every=0)
    assert gallery.start_version(spec()).outcome == StartOutcome.STARTED


def test_poll_of_a_version_that_does_not_exist_says_missing(gallery: GalleryClient) -> None:
    assert gallery.poll_version(VersionRef(CI, "almalinux-9-gen2", "1.2.3")).outcome == PollOutcome.MISSING


def test_a_version_job_carries_every_publishing_setting_to_azure(
    emulator: Emulator, gallery: GalleryClient
) -> None:
    """What the orchestrator sends (through Durable's JSON) is what the version is created with."""
    source = SOURCE + "?sig=SECRET"
    job = VersionJob(
        gallery=CI, definition="almalinux-9-gen2", version="9.6.2025052209", hyper_v_generation="V2",
        architecture="x64", location="eastus", resource_group=RG, source_uri=source, source_md5="m",
        storage_account_id=ACCOUNT_ID, target_regions=REGIONS, storage_account_type="Standard_ZRS",
        replication_mode="Full", exclude_from_latest=True, end_of_life_date="2030-06-30", deadline_minutes=60,
        poll_seconds=5,
    )  # fmt: skip
    carried = VersionJob.from_json(json.loads(json.dumps(job.to_json())))
    assert carried == job
    gallery.start_version(version_spec(carried))
    version: Any = gallery.compute.gallery_image_versions.get(RG, CI, "almalinux-9-gen2", "9.6.2025052209")
    profile = version.properties.publishing_profile
    assert [(t.name, t.regional_replica_count, t.storage_account_type) for t in profile.target_regions] == [
        ("East US", 1, "Standard_ZRS"),
        ("West US 2", 2, "Standard_ZRS"),
    ]
    assert (profile.exclude_from_latest, profile.replication_mode) == (True, "Full")
    assert profile.end_of_life_date.date().isoformat() == "2030-06-30"
    # A VHD source is its uri and its account, never a source.id (Azure refuses either way otherwise).
    sent = version.properties.storage_profile.os_disk_image.source
    assert (sent.uri, sent.storage_account_id, sent.id) == (source, ACCOUNT_ID, None)
    assert version.tags == {"source": SOURCE, "md5": "m", "gallery-publisher": __version__}


def test_client_factory_refuses_non_loopback_in_local_mode_and_needs_a_subscription_in_azure() -> None:
    with pytest.raises(SettingsError, match="loopback"):
        compute_client(Settings(local_mode=True, arm_endpoint="https://management.azure.com"))
    with pytest.raises(SettingsError, match="AZURE_SUBSCRIPTION_ID"):
        compute_client(Settings())


def test_transient_server_errors_come_back_as_a_wait(emulator: Emulator, gallery: GalleryClient) -> None:
    emulator.set_faults(server_error_every=1)
    began = time.monotonic()
    started = gallery.start_version(spec())
    assert time.monotonic() - began < 2.0  # the SDK does not retry status codes itself
    assert started.outcome == StartOutcome.RETRY and started.retry_after == DEFAULT_RETRY_AFTER
    assert "ServiceUnavailable" in started.message


class _CreateBetweenGetAndPut(SansIOHTTPPolicy[Any, Any]):
    """Another job's create lands right after our GET found nothing: the race, made certain."""

    def __init__(self, other: GalleryClient, other_spec: VersionSpec) -> None:
        self._other = (other, other_spec)
        self.fired = False

    def on_response(self, request: PipelineRequest[Any], response: PipelineResponse[Any, Any]) -> None:
        if (
            request.http_request.method == "GET"
            and response.http_response.status_code == 404
            and not self.fired
        ):
            self.fired = True
            other, other_spec = self._other
            assert other.start_version(other_spec).outcome == StartOutcome.STARTED


def _racing_client(emulator: Emulator, race: _CreateBetweenGetAndPut) -> GalleryClient:
    credential = LocalTokenCredential()
    compute = ComputeManagementClient(
        credential,
        LOCAL_SUBSCRIPTION_ID,
        base_url=emulator.base_url,
        authentication_policy=LocalBearerPolicy(credential),
        per_call_policies=[race],
        **RETRY_OPTIONS,
    )
    return GalleryClient(compute, RG)


def test_a_version_created_by_another_job_between_get_and_put_is_adopted(
    emulator: Emulator, gallery: GalleryClient
) -> None:
    race = _CreateBetweenGetAndPut(gallery, spec())
    started = _racing_client(emulator, race).start_version(spec())
    assert race.fired  # our PUT met the other job's version while it was being created: Azure's 409
    assert started.outcome == StartOutcome.ADOPTED
    assert poll_until_finished(gallery, spec().ref)[-1].outcome == PollOutcome.SUCCEEDED
    assert len(gallery.list_versions(CI, "almalinux-9-gen2")) == 1


def test_a_version_from_another_source_created_in_the_race_is_an_error(
    emulator: Emulator, gallery: GalleryClient
) -> None:
    other = "http://127.0.0.1:1/devstoreaccount1/9-default/other.vhd"
    race = _CreateBetweenGetAndPut(gallery, spec(source=other))
    with pytest.raises(GalleryError) as caught:
        _racing_client(emulator, race).start_version(spec())
    assert "9-default/other.vhd" in str(caught.value) and SOURCE in str(caught.value)


def test_a_job_plan_adds_the_definitions_region_it_read_in_preflight(emulator: Emulator) -> None:
    settings = local_settings(
        emulator.base_url,
        target_regions=(TargetRegion("westus2", 1),),
        blob_endpoint="http://127.0.0.1:1/devstoreaccount1",
        storage_account_id=ACCOUNT_ID,
    )
    services = Services(
        settings,
        BlobServiceClient(settings.blob_endpoint),  # a VHD input: only the versions are read
        GalleryClient(compute_client(settings), RG),
    )
    prepared = prepare_job(PublishRequest(SOURCE), services)
    assert prepared.existing.home_regions == ("eastus", "eastus")  # both generations' definitions
    plan = prepared.to_json()
    assert plan["target_regions"] == [{"name": "eastus", "replicas": 1}, {"name": "westus2", "replicas": 1}]
    assert any("leave out eastus" in note for note in plan["notes"])
    assert {v["location"] for v in plan["versions"]} == {"eastus"}
