"""The plan: a request, the settings and what already exists → every operation, in order.

A dry run shows this plan and stops; a real run carries it out. The plan is pure data: it is
built without I/O from what the caller read (existing blob and version names).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from gallery_publisher.errors import PublishError
from gallery_publisher.planning.families import Family, family_for
from gallery_publisher.planning.image_names import ImageName, SourceKind, parse_image_name
from gallery_publisher.planning.settings import Settings, TargetRegion, check_replica_caps
from gallery_publisher.urls import blob_account_name, blob_location, blob_url, canonical_blob_url, redact_url


@dataclass(frozen=True)
class PublishRequest:
    image_url: str
    url_type: SourceKind | None = None  # inferred from the file name when absent
    dry_run: bool = True
    public_gallery: bool = False
    notify: bool = False
    target_regions: tuple[TargetRegion, ...] | None = None
    end_of_life_date: date | None = None
    exclude_from_latest: bool | None = None
    replication_mode: str | None = None


@dataclass(frozen=True)
class ExistingState:
    """What the caller found in storage and the gallery; empty when offline."""

    blob_names: tuple[str, ...] = ()
    version_names: tuple[str, ...] = ()
    # A blob staged earlier from this very source: a re-run reuses its name and index.
    blob_from_same_source: str | None = None
    # The regions of the target image definitions (a version lives there): unknown offline.
    home_regions: tuple[str, ...] = ()


@dataclass(frozen=True)
class VersionPlan:
    gallery: str
    definition: str
    version: str
    hyper_v_generation: str
    architecture: str


@dataclass(frozen=True)
class PublishPlan:
    image: ImageName
    family: str
    source_url: str  # redacted: never carries a query string
    source_kind: SourceKind
    container: str
    blob_name: str | None  # None for VHD input: the blob already exists
    blob_url: str
    upload_index: int
    reuses_blob: bool
    gallery: str
    resource_group: str
    public_requested: bool
    public_refused: bool
    public_refused_reason: str
    storage_account_id: str
    versions: tuple[VersionPlan, ...]
    target_regions: tuple[TargetRegion, ...]
    storage_account_type: str
    replication_mode: str
    exclude_from_latest: bool
    end_of_life_date: date | None
    # No defaults: every value comes from the request or the settings (make_plan), never a third copy.
    version_deadline_minutes: int
    poll_seconds: int
    upload_settle_seconds: int
    dry_run: bool
    notes: tuple[str, ...]

    def operations(self) -> list[str]:
        """Every operation a real run performs, in order, with every name and parameter."""
        steps: list[str] = []
        if self.source_kind is SourceKind.RAW:
            if self.reuses_blob:
                steps.append(
                    f"reuse blob {self.blob_url} staged earlier from {self.source_url} (checked complete)"
                )
            else:
                steps.append(
                    f"stage {self.source_url} as fixed VHD page blob {self.blob_url} "
                    "(one pass: MD5 of the whole VHD, zero chunks skipped, Content-MD5 set last)"
                )
        else:
            steps.append(
                f"validate VHD blob {self.blob_url} (page blob, fixed-disk footer, N MiB + 512 bytes)"
            )
        regions = ", ".join(f"{r.name}={r.replicas}" for r in self.target_regions)
        for v in self.versions:
            steps.append(
                f"create version {v.gallery}/{v.definition}/{v.version} "
                f"(hyperVGeneration {v.hyper_v_generation}, {v.architecture}) in resource group "
                f"{self.resource_group} from {self.blob_url}; regions {regions}; storage "
                f"{self.storage_account_type}; replication {self.replication_mode}; exclude from latest "
                f"{str(self.exclude_from_latest).lower()}; end of life {self.end_of_life_date or 'none'}"
            )
        steps.append("wait for every version to replicate (durable timers, per-region progress)")
        return steps

    def to_json(self) -> dict[str, Any]:
        return {
            "release_version": self.image.release,
            "kitten": self.image.kitten,
            "timestamp": self.image.timestamp,
            "date": self.image.date,
            "arch": self.image.arch,
            "image_type": str(self.image.image_type),
            "release_string": self.image.release_string,
            "source_kind": str(self.source_kind),
            "source_url": self.source_url,
            "family": self.family,
            "container": self.container,
            "blob_name": self.blob_name,
            "blob_url": self.blob_url,
            "upload_index": self.upload_index,
            "reuses_blob": self.reuses_blob,
            "gallery": self.gallery,
            "resource_group": self.resource_group,
            "public_requested": self.public_requested,
            "public_refused": self.public_refused,
            "public_refused_reason": self.public_refused_reason,
            "storage_account_id": self.storage_account_id,
            "versions": [asdict(v) for v in self.versions],
            "target_regions": [{"name": r.name, "replicas": r.replicas} for r in self.target_regions],
            "storage_account_type": self.storage_account_type,
            "replication_mode": self.replication_mode,
            "exclude_from_latest": self.exclude_from_latest,
            "end_of_life_date": self.end_of_life_date.isoformat() if self.end_of_life_date else None,
            "version_deadline_minutes": self.version_deadline_minutes,
            "poll_seconds": self.poll_seconds,
            "upload_settle_seconds": self.upload_settle_seconds,
            "dry_run": self.dry_run,
            "operations": self.operations(),
            "notes": list(self.notes),
        }

    def render_text(self) -> str:
        mode = "DRY RUN: nothing will be written" if self.dry_run else "PUBLISH"
        lines = [
            f"{self.image.release_string} `{self.image.timestamp}` ({mode})",
            f"  image file:   {self.image.file_name}",
            f"  family:       {self.family} (container {self.container})",
            f"  image URI:    {self.blob_url}",
            f"  gallery:      {self.gallery} in {self.resource_group}",
        ]
        if self.public_refused:
            lines.append(f"  public:       REFUSED: {self.public_refused_reason}")
        lines += [f"  note:         {note}" for note in self.notes]
        lines.append("Operations, in order:")
        lines += [f"  {n}. {step}" for n, step in enumerate(self.operations(), 1)]
        return "\n".join(lines)


def source_kind(url_type: SourceKind | None, image: ImageName) -> SourceKind:
    """What the job does with the source: the name's kind, or RAW for a .vhd asked to be staged (a
    dynamic VHD, copied as a fixed one). The request is read with this rule and the plan is made with it."""
    if (
        url_type is not None
        and url_type is not image.source_kind
        and not converts_vhd(url_type, image.source_kind)
    ):
        raise PublishError(
            f"url_type is {url_type} but {image.file_name} is a .{image.source_kind} file name; "
            f"set url_type to {image.source_kind} or leave it out: it is inferred from the name"
        )
    return url_type or image.source_kind


def converts_vhd(url_type: SourceKind, name_kind: SourceKind) -> bool:
    """url_type raw on a .vhd name: stage a fixed copy of a VHD that Azure cannot use as it is."""
    return url_type is SourceKind.RAW and name_kind is SourceKind.VHD


def _vhd_location(
    request: PublishRequest, family: Family, settings: Settings, image: ImageName
) -> tuple[str, str]:
    """Container and blob URL of a VHD input: from its URL, or the family's container for a bare name."""
    if "://" not in request.image_url:
        return family.container, blob_url(settings.blob_endpoint, family.container, image.file_name)
    location = blob_location(request.image_url, settings.blob_endpoint)
    if location is None:
        raise PublishError(
            f"VHD blob {redact_url(request.image_url)} is not in the configured storage account "
            f"({settings.blob_endpoint.rstrip('/')}); Azure can only create versions from a blob in that "
            "account: copy it there first or set GALLERY_PUBLISHER_STORAGE_ACCOUNT"
        )
    # Decoded once and spelled again: the blob validated is the blob whose URI goes to the gallery.
    container, name = location
    return container, canonical_blob_url(settings.blob_endpoint, container, name)


def target_gallery(public_requested: bool, family: Family, settings: Settings) -> tuple[str, bool, str]:
    """(gallery, public refused, why): the public gallery when asked and the family may be public,
    else the CI gallery. The job's id and its plan both name the gallery this gives."""
    if not public_requested:
        return settings.ci_gallery, False, ""
    rule = settings.never_public_rule(family.key)
    if rule is not None:
        reason = (
            f"family {family.key} matches the never-public rule {rule!r} "
            f"(GALLERY_PUBLISHER_NEVER_PUBLIC={','.join(settings.never_public)}); "
            f"publishing to the CI gallery {settings.ci_gallery} instead"
        )
        return settings.ci_gallery, True, reason
    return settings.public_gallery, False, ""


def _region_key(name: str) -> str:
    """Azure writes a region "West US 2" or "westus2": compare them as one."""
    return name.replace(" ", "").lower()


def _target_regions(
    requested: tuple[TargetRegion, ...], home_regions: tuple[str, ...], mode: str
) -> tuple[tuple[TargetRegion, ...], list[str]]:
    """The regions to replicate to: as asked, plus the versions' own region, which Azure requires
    (it refuses a version whose targetRegions leave out its location). Shallow replication copies
    nothing, so it allows the home region alone, with one replica."""
    listed = {_region_key(r.name) for r in requested}
    homes = list(dict.fromkeys(_region_key(h) for h in home_regions))
    missing = [home for home in homes if home not in listed]
    regions = tuple(TargetRegion(home, 1) for home in missing) + requested
    notes: list[str] = []
    if missing:
        asked = ", ".join(f"{r.name}={r.replicas}" for r in requested)
        added = ", ".join(f"{home}=1" for home in missing)
        notes.append(
            f"target regions {asked} leave out {', '.join(missing)}, the region of the image definitions; "
            f"Azure requires a version's own region among its target regions, so {added} was added"
        )
    elif not homes:
        notes.append(
            "the image definitions' region is not known offline: a real run adds it to the target "
            "regions when they leave it out"
        )
    if mode == "Shallow":
        home = homes[0] if len(homes) == 1 else None
        if len(regions) != 1 or regions[0].replicas != 1 or (home and _region_key(regions[0].name) != home):
            shown = ", ".join(f"{r.name}={r.replicas}" for r in regions)
            wanted = f"{home}=1" if home else "the image definitions' region with 1 replica"
            raise PublishError(
                f"replication mode Shallow keeps the image in its own region only, with one replica, but "
                f"the target regions would be {shown}: set GALLERY_PUBLISHER_TARGET_REGIONS (or the "
                f"request's target_regions) to {wanted}, or use replication mode Full"
            )
    return regions, notes


def _check_storage_account(storage_account_id: str, url: str) -> None:
    """Azure creates a version from a VHD only when storageAccountId names the account holding it."""
    named = storage_account_id.rstrip("/").rpartition("/")[2].lower()
    holder = blob_account_name(url)
    if holder is not None and holder != named:
        raise PublishError(
            f"the VHD {url} is in storage account '{holder}', but GALLERY_PUBLISHER_STORAGE_ACCOUNT_ID names "
            f"'{named}' ({storage_account_id}); Azure refuses a version whose storageAccountId is not the "
            f"blob's account: set it to …/providers/Microsoft.Storage/storageAccounts/{holder}, or leave it "
            "unset to derive it from GALLERY_PUBLISHER_STORAGE_ACCOUNT"
        )


def make_plan(
    request: PublishRequest, settings: Settings, existing: ExistingState | None = None
) -> PublishPlan:
    existing = existing or ExistingState()
    image = parse_image_name(request.image_url)
    family = family_for(image)
    kind = source_kind(request.url_type, image)
    gallery, public_refused, refused_reason = target_gallery(request.public_gallery, family, settings)
    notes: list[str] = []
    reuses_blob = False
    blob_name: str | None
    if kind is SourceKind.RAW:
        container = family.container
        reused = existing.blob_from_same_source
        used = family.used_indices(image, [reused], []) if reused else set()
        if used:
            index, reuses_blob = used.pop(), True
        else:
            index = family.next_upload_index(image, existing.blob_names, existing.version_names)
        blob_name = family.blob_name(image, index)
        url = blob_url(settings.blob_endpoint, container, blob_name)
    else:
        index = int(image.index)
        family.version(image, index)  # the index a VHD name carries must fit the family too
        container, url = _vhd_location(request, family, settings, image)
        blob_name = None
    target_regions = request.target_regions or settings.target_regions
    # Checked where the request is read too; again here, where every job's regions are decided.
    check_replica_caps("target_regions", target_regions, settings.max_regions, settings.max_total_replicas)
    version = family.version(image, index)
    versions = tuple(
        VersionPlan(gallery, d.name, version, d.hyper_v_generation, d.architecture)
        for d in family.definitions
    )
    if kind is SourceKind.VHD and version in existing.version_names:
        notes.append(f"version {version} already exists: a real run checks it comes from this blob")
    _check_storage_account(settings.storage_account_id, url)
    replication_mode = request.replication_mode or settings.replication_mode
    target_regions, region_notes = _target_regions(
        request.target_regions or settings.target_regions, existing.home_regions, replication_mode
    )
    notes += region_notes
    return PublishPlan(
        image=image,
        family=family.key,
        source_url=redact_url(request.image_url),
        source_kind=kind,
        container=container,
        blob_name=blob_name,
        blob_url=url,
        upload_index=index,
        reuses_blob=reuses_blob,
        gallery=gallery,
        resource_group=settings.resource_group,
        public_requested=request.public_gallery,
        public_refused=public_refused,
        public_refused_reason=refused_reason,
        storage_account_id=settings.storage_account_id,
        versions=versions,
        target_regions=target_regions,
        storage_account_type=settings.storage_account_type,
        replication_mode=replication_mode,
        exclude_from_latest=(
            settings.exclude_from_latest
            if request.exclude_from_latest is None
            else request.exclude_from_latest
        ),
        end_of_life_date=request.end_of_life_date or settings.end_of_life_date,
        version_deadline_minutes=settings.version_deadline_minutes,
        poll_seconds=settings.poll_seconds,
        upload_settle_seconds=settings.upload_settle_seconds,
        dry_run=request.dry_run,
        notes=tuple(notes),
    )
