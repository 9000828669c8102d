"""The job report: what happened, as structured data and as the Markdown job summary.

The summary keeps the shape of the old release job's: the release string and timestamp, the image
file and URI, a line per version created, whether it was released and whether the gallery is public.
It adds what the old one lacked: each region's replication state, durations, and on failure the
step, the error code and the message. Mattermost gets the same text when notification is asked for.
The records travel through Durable Functions as plain JSON, so each has to_json/from_json.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from gallery_publisher.jobs.markdown import code_span, inert
from gallery_publisher.urls import redact_url


@dataclass(frozen=True)
class RegionState:
    region: str
    state: str  # Unknown, Replicating, Completed, Failed
    progress: int  # 0-100


@dataclass(frozen=True)
class VersionOutcome:
    gallery: str
    definition: str
    version: str
    state: str  # Succeeded, Failed, TimedOut, or AlreadyPublished (a re-run found it done)
    regions: tuple[RegionState, ...] = ()
    seconds: float = 0.0
    error_code: str = ""
    error_message: str = ""

    @property
    def path(self) -> str:
        return f"{self.gallery}/{self.definition}/{self.version}"

    @property
    def succeeded(self) -> bool:
        return self.state in ("Succeeded", "AlreadyPublished")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VersionOutcome:
        regions = tuple(RegionState(**r) for r in data.get("regions", ()))
        return cls(**{**data, "regions": regions})


@dataclass(frozen=True)
class JobResult:
    """The outcome of one publishing job; `plan` is PublishPlan.to_json()."""

    plan: dict[str, Any]
    outcome: str  # "published", "dry_run" or "failed"
    versions: tuple[VersionOutcome, ...] = ()
    staged: dict[str, Any] | None = None  # StageResult JSON when a RAW was staged
    failed_step: str = ""
    error_code: str = ""
    error_message: str = ""
    durations: dict[str, float] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.outcome in ("published", "dry_run")

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan,
            "outcome": self.outcome,
            "versions": [v.to_json() for v in self.versions],
            "staged": self.staged,
            "failed_step": self.failed_step,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "durations": self.durations,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobResult:
        return cls(
            plan=data["plan"],
            outcome=data["outcome"],
            versions=tuple(VersionOutcome.from_json(v) for v in data.get("versions", ())),
            staged=data.get("staged"),
            failed_step=data.get("failed_step", ""),
            error_code=data.get("error_code", ""),
            error_message=data.get("error_message", ""),
            durations=dict(data.get("durations", {})),
        )


def _mark(flag: bool) -> str:
    return "✅" if flag else "❌"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _version_lines(result: JobResult) -> list[str]:
    lines: list[str] = []
    if result.outcome == "dry_run":
        return [
            f"- Would create: '{inert(v['gallery'])}/{inert(v['definition'])}/{inert(v['version'])}'"
            for v in result.plan["versions"]
        ]
    for version in result.versions:
        if version.state == "AlreadyPublished":
            lines.append(f"- Already published: '{inert(version.path)}' (nothing to do)")
        elif version.succeeded:
            lines.append(f"- Created: '{inert(version.path)}' in {_duration(version.seconds)}")
        else:
            error = (
                f": {code_span(f'{version.error_code} {version.error_message}')}"
                if version.error_code
                else ""
            )
            lines.append(f"- Failed ({inert(version.state)}): '{inert(version.path)}'{error}")
        if version.regions:
            regions = inert(", ".join(f"{r.region} {r.state} {r.progress}%" for r in version.regions))
            lines.append(f"  - Regions: {regions}")
    return lines


def _source_line(staged: dict[str, Any]) -> str:
    if staged["source_verified"]:
        return f"- Source verified: ✅ SHA-256 {code_span(staged['source_sha256'])} matches the published .sha256sum"
    if staged["source_verified"] is False:
        return f"- Source verified: ❌ {code_span(staged.get('source_check') or 'no .sha256sum published')}"
    return "- Source verified: ❌ not checked (reused a blob staged before SHA-256 was recorded)"


def _error_text(result: JobResult) -> str:
    return f"{result.error_code} {result.error_message}".strip()


def _unplanned_summary(result: JobResult) -> str:
    """When planning itself failed there is no plan to describe: say what failed."""
    image = redact_url(result.plan.get("request", {}).get("image_url", "")).rpartition("/")[2]
    return (
        f"**{code_span(image) or '(no image)'}**:\n- Released to Gallery: ❌\n"
        f"- Failed at step **{inert(result.failed_step)}**: {code_span(_error_text(result))}".rstrip()
    )


def render_markdown(result: JobResult) -> str:
    """The job summary: the old workflow's shape, plus regions, durations and errors."""
    plan = result.plan
    if "release_string" not in plan:
        return _unplanned_summary(result)
    released = result.outcome == "published" and all(v.succeeded for v in result.versions)
    public = plan["public_requested"] and not plan["public_refused"]
    lines = [
        f"**{inert(plan['release_string'])}** {code_span(plan['timestamp'])}:",
        # The old summary's shape: both are ours (a name that matched a pattern, a URL built from it).
        f"- Image file: {inert(redact_url(plan['source_url']).rsplit('/', 1)[-1])}",
        f"- Image URI: {inert(plan['blob_url'])}",
        *_version_lines(result),
        f"- Released to Gallery: {_mark(released)}"
        + (" (dry run: nothing was written)" if result.outcome == "dry_run" else ""),
        f"- The Gallery is public: {_mark(public)}",
    ]
    if plan["public_refused"]:
        lines.append(f"- Public gallery refused: {inert(plan['public_refused_reason'])}")
    lines += [f"- Note: {inert(note)}" for note in plan.get("notes", [])]
    if result.staged:
        staged = result.staged
        reused = " (reused: staged earlier from the same source)" if staged.get("reused") else ""
        lines.append(f"- VHD MD5: {code_span(str(staged['md5']))}, {int(staged['size']):,} bytes{reused}")
        if "source_verified" in staged:  # a staged RAW (a VHD input has no RAW to verify)
            lines.append(_source_line(staged))
    if result.durations:
        lines.append(
            "- Durations: " + ", ".join(f"{step} {_duration(s)}" for step, s in result.durations.items())
        )
    if result.outcome == "failed":
        lines.append(
            f"- Failed at step **{inert(result.failed_step)}**: {code_span(_error_text(result))}".rstrip()
        )
    return "\n".join(lines)
