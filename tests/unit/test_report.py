"""The job summary (the old job summary's shape, plus regions, durations and the failure), for success,
dry run and failure."""

from __future__ import annotations

from gallery_publisher.jobs.report import JobResult, RegionState, VersionOutcome, render_markdown
from gallery_publisher.planning.plan import ExistingState, PublishRequest, make_plan
from gallery_publisher.planning.settings import TargetRegion, load_settings

RAW = "https://b.s3.amazonaws.com/AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw?X-Amz-Signature=SECRET"


def _plan(public: bool = False, name: str = RAW) -> dict[str, object]:
    return make_plan(PublishRequest(name, public_gallery=public, dry_run=False), load_settings({})).to_json()


def _created(definition: str, state: str = "Succeeded") -> VersionOutcome:
    return VersionOutcome(
        gallery="almalinux_ci",
        definition=definition,
        version="9.6.2025052201",
        state=state,
        regions=(RegionState("East US", "Completed", 100), RegionState("West US 2", "Completed", 100)),
        seconds=125,
    )


def test_published_summary_has_the_old_shape() -> None:
    result = JobResult(
        plan=_plan(),
        outcome="published",
        versions=(_created("almalinux-9-gen1"), _created("almalinux-9-gen2")),
        staged={
            "md5": "0" * 32,
            "size": 1048576 + 512,
            "reused": False,
            "source_sha256": "ab" * 32,
            "source_verified": True,
            "source_check": "SHA-256 published at https://b.s3.amazonaws.com/x.raw.sha256sum",
        },
        durations={"stage": 12.5, "publish": 130.0},
    )
    text = render_markdown(result)
    lines = text.splitlines()
    assert lines[:6] == [
        "**AlmaLinux OS 9.6 x86_64** `20250522.0`:",
        "- Image file: AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw",
        "- Image URI: https://almalinux.blob.core.windows.net/9-default/almalinux-9.6-x86_64.20250522-01.vhd",
        "- Created: 'almalinux_ci/almalinux-9-gen1/9.6.2025052201' in 2 min 5 s",
        "  - Regions: East US Completed 100%, West US 2 Completed 100%",
        "- Created: 'almalinux_ci/almalinux-9-gen2/9.6.2025052201' in 2 min 5 s",
    ]
    assert "- Released to Gallery: ✅" in lines
    assert "- The Gallery is public: ❌" in lines
    assert "- Durations: stage 12 s, publish 2 min 10 s" in lines
    assert f"- Source verified: ✅ SHA-256 `{'ab' * 32}` matches the published .sha256sum" in lines
    assert "SECRET" not in text


def test_dry_run_summary_says_nothing_was_written() -> None:
    text = render_markdown(JobResult(plan=_plan(public=True), outcome="dry_run"))
    assert "- Would create: 'almalinux/almalinux-9-gen1/9.6.2025052201'" in text
    assert "- Released to Gallery: ❌ (dry run: nothing was written)" in text
    assert "- The Gallery is public: ✅" in text


def test_failure_names_the_step_and_the_azure_error() -> None:
    failed = VersionOutcome(
        gallery="almalinux_ci",
        definition="almalinux-9-gen2",
        version="9.6.2025052201",
        state="Failed",
        regions=(RegionState("East US", "Completed", 100), RegionState("West US 2", "Failed", 40)),
        error_code="ReplicationJobsNotCompleted",
        error_message="Gallery replication jobs failed in one or more regions",
    )
    result = JobResult(
        plan=_plan(),
        outcome="failed",
        versions=(_created("almalinux-9-gen1"), failed),
        failed_step="publish",
        error_code="ReplicationJobsNotCompleted",
        error_message="1 of 2 versions failed",
    )
    text = render_markdown(result)
    assert (
        "- Failed (Failed): 'almalinux_ci/almalinux-9-gen2/9.6.2025052201': `ReplicationJobsNotCompleted"
        in text
    )
    assert "West US 2 Failed 40%" in text
    assert "- Released to Gallery: ❌" in text
    assert "- Failed at step **publish**: `ReplicationJobsNotCompleted 1 of 2 versions failed`" in text


def test_refused_public_request_is_stated() -> None:
    plan = _plan(public=True, name="AlmaLinux-Kitten-Azure-10-20250813.0.x86_64.raw")
    text = render_markdown(JobResult(plan=plan, outcome="dry_run"))
    assert "- The Gallery is public: ❌" in text
    assert (
        "- Public gallery refused: family kitten-10-default matches the never-public rule 'kitten-*'" in text
    )


def test_result_survives_a_json_round_trip() -> None:
    result = JobResult(plan=_plan(), outcome="published", versions=(_created("almalinux-9-gen1"),))
    assert JobResult.from_json(result.to_json()) == result


def _staged(verified: bool | None, check: str = "") -> dict[str, object]:
    return {"md5": "0" * 32, "size": 512, "reused": verified is None, "source_sha256": "cd" * 32,
            "source_verified": verified, "source_check": check}  # fmt: skip


def test_an_unverified_source_is_stated() -> None:
    check = "no .sha256sum published (HTTP 404 for https://b.s3.amazonaws.com/x.raw.sha256sum)"
    result = JobResult(plan=_plan(), outcome="published", staged=_staged(False, check))
    assert f"- Source verified: ❌ `{check}`" in render_markdown(result).splitlines()
    reused = JobResult(plan=_plan(), outcome="published", staged=_staged(None))
    assert "- Source verified: ❌ not checked" in render_markdown(reused)


def test_a_vhd_input_has_no_source_line() -> None:
    staged = {"blob_url": "https://a/b.vhd", "md5": "0" * 32, "size": 512}
    assert "Source verified" not in render_markdown(
        JobResult(plan=_plan(), outcome="published", staged=staged)
    )


def test_a_job_that_failed_before_planning_still_says_what_failed() -> None:
    request = {
        "image_url": "https://b.s3.amazonaws.com/AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw?X-Amz-Signature=S"
    }
    result = JobResult(
        plan={"request": request}, outcome="failed", failed_step="plan", error_code="Gallery",
        error_message="preflight failed",
    )  # fmt: skip
    assert render_markdown(result).splitlines() == [
        "**`AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw`**:",
        "- Released to Gallery: ❌",
        "- Failed at step **plan**: `Gallery preflight failed`",
    ]


def test_a_dry_run_summary_says_the_home_region_was_added() -> None:
    request = PublishRequest(RAW, target_regions=(TargetRegion("westus2", 1),))
    plan = make_plan(request, load_settings({}), ExistingState(home_regions=("eastus",))).to_json()
    text = render_markdown(JobResult(plan=plan, outcome="dry_run"))
    assert "- Note: target regions westus2=1 leave out eastus" in text
