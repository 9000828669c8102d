"""Settings: read once from the environment into one immutable object, validated at load.

Every variable is documented in the README's settings table; a bad value raises SettingsError
naming the variable and what is allowed.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from gallery_publisher.errors import SettingsError
from gallery_publisher.planning.families import FAMILIES

PREFIX = "GALLERY_PUBLISHER_"
STORAGE_ACCOUNT_TYPES = ("Standard_LRS", "Standard_ZRS", "Premium_LRS")
REPLICATION_MODES = ("Full", "Shallow")
CONVERTERS = ("native", "qemu-img")  # who turns a RAW into the disk stream (other formats: qemu-img)
MAX_REPLICAS = 100  # Azure's limit for regionalReplicaCount
# Every variable load_settings reads; the README table and infra/main.bicep must list the same.
ENVIRONMENT_VARIABLES = (
    "AZURE_SUBSCRIPTION_ID",
    "AZURE_STORAGE_CONNECTION_STRING",
    *(
        PREFIX + name
        for name in (
            "CI_GALLERY", "PUBLIC_GALLERY", "RESOURCE_GROUP", "STORAGE_ACCOUNT", "STORAGE_ACCOUNT_ID",
            "BLOB_ENDPOINT", "ARM_ENDPOINT", "TARGET_REGIONS", "STORAGE_ACCOUNT_TYPE", "NEVER_PUBLIC",
            "END_OF_LIFE_DATE", "EXCLUDE_FROM_LATEST", "REPLICATION_MODE", "MATTERMOST_WEBHOOK_URL",
            "MATTERMOST_CHANNEL", "MATTERMOST_USERNAME", "ALLOWED_SOURCE_HOSTS", "BLOB_TRIGGER_DRY_RUN",
            "BLOB_TRIGGER_PUBLIC", "VERSION_DEADLINE_MINUTES", "POLL_SECONDS", "LOCAL_MODE",
            "ALLOWED_SOURCE_PORTS",
            "STAGING_DEADLINE_MINUTES", "MAX_REGIONS", "MAX_TOTAL_REPLICAS", "CLEANUP_AFTER_HOURS",
            "CLEANUP_DELETE", "UPLOAD_SETTLE_SECONDS",
            "CONVERTER",
        )
    ),
)  # fmt: skip
# Only the local stack sets these: in Azure, storage is reached with the app's identity.
LOCAL_ONLY_VARIABLES = (
    "AZURE_STORAGE_CONNECTION_STRING",
    PREFIX + "LOCAL_MODE",
)

_GALLERY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.]{0,78}[A-Za-z0-9]")
_RESOURCE_GROUP = re.compile(r"[-\w._()]{1,89}[-\w_()]")
_STORAGE_ACCOUNT = re.compile(r"[a-z0-9]{3,24}")
_REGION = re.compile(r"[a-z0-9]{2,40}")
_HOST_PATTERN = re.compile(r"[a-z0-9*.-]+")
_FAMILY_PATTERN = re.compile(r"[a-z0-9*?-]+")
# ASCII digits only: str.isdigit() also accepts "²", which int() refuses. Short enough for int().
_DIGITS = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True)
class TargetRegion:
    name: str
    replicas: int


@dataclass(frozen=True)
class Settings:
    """The settings, each field's default the one default of its variable (see default_text)."""

    ci_gallery: str = "almalinux_ci"
    public_gallery: str = "almalinux"
    resource_group: str = "rg-alma-images"
    subscription_id: str = ""
    storage_account: str = "almalinux"
    storage_account_id: str = ""  # derived from subscription, group and account when not set
    storage_connection_string: str | None = field(default=None, repr=False)  # secret
    blob_endpoint: str = ""  # derived from the account (or the connection string) when not set
    arm_endpoint: str = "https://management.azure.com"
    target_regions: tuple[TargetRegion, ...] = tuple(
        TargetRegion(name, 1)
        for name in ("eastus", "germanywestcentral", "westus2", "southeastasia", "southcentralus")
    )
    storage_account_type: str = "Standard_LRS"
    never_public: tuple[str, ...] = ("kitten-*", "10-*", "9-arm64-64k")
    end_of_life_date: date | None = None
    exclude_from_latest: bool = False
    replication_mode: str = "Full"
    mattermost_webhook_url: str | None = field(default=None, repr=False)  # secret
    mattermost_channel: str = ""
    mattermost_username: str = "gallery-publisher"
    allowed_source_hosts: tuple[str, ...] = (
        "*.s3.amazonaws.com",
        "*.s3.*.amazonaws.com",
        "*.s3-accelerate.amazonaws.com",
        "*.s3-accelerate.dualstack.amazonaws.com",
    )
    allowed_source_ports: tuple[int, ...] = (443,)  # of https sources (plain http is local mode only)
    blob_trigger_dry_run: bool = True
    blob_trigger_public: bool = False
    version_deadline_minutes: int = 180
    poll_seconds: int = 60
    local_mode: bool = False
    staging_deadline_minutes: int = 240
    max_regions: int = 10
    max_total_replicas: int = 30
    cleanup_after_hours: int = 72
    cleanup_delete: bool = False
    upload_settle_seconds: int = 120
    converter: str = "native"

    def is_never_public(self, family_key: str) -> bool:
        return self.never_public_rule(family_key) is not None

    def never_public_rule(self, family_key: str) -> str | None:
        """The first GALLERY_PUBLISHER_NEVER_PUBLIC pattern that keeps this family private, if any."""
        return next((p for p in self.never_public if fnmatch.fnmatchcase(family_key, p)), None)


_DEFAULTS = Settings()
# The two variables whose field is not named after them.
_FIELDS = {
    "AZURE_SUBSCRIPTION_ID": "subscription_id",
    "AZURE_STORAGE_CONNECTION_STRING": "storage_connection_string",
}


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, TargetRegion):
        return f"{value.name}={value.replicas}"
    if isinstance(value, tuple):
        return ",".join(_as_text(item) for item in value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def default_text(variable: str) -> str:
    """The default of an environment variable as the environment would write it, taken from the
    Settings field: the one place defaults are written (the README and infra/main.bicep repeat them,
    and tests/unit/test_deployment_files.py checks they agree). Empty for those derived from others."""
    field_name = _FIELDS.get(variable) or variable.removeprefix(PREFIX).lower()
    return _as_text(getattr(_DEFAULTS, field_name))


def _text(env: Mapping[str, str], name: str, default: str | None = None) -> str:
    """The variable's value, or its default when unset or blank (`default` for a derived one)."""
    return env.get(name, "").strip() or (default_text(name) if default is None else default)


def _flag(env: Mapping[str, str], name: str) -> bool:
    return parse_bool(name, env.get(name, "") or default_text(name))


def _matching(env: Mapping[str, str], name: str, pattern: re.Pattern[str], allowed: str) -> str:
    value = _text(env, name)
    if not pattern.fullmatch(value):
        raise SettingsError(f"{name}={value!r} is not allowed: {allowed}")
    return value


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    value = _text(env, name)
    if value not in choices:
        raise SettingsError(f"{name}={value!r} is not allowed: use one of {', '.join(choices)}")
    return value


def parse_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={value!r} is not allowed: use true or false")


def parse_regions(name: str, value: str) -> tuple[TargetRegion, ...]:
    """`eastus=1,westus2=2`: region names as Azure's CLI writes them, each with its replica count."""
    regions: list[TargetRegion] = []
    for item in (part.strip() for part in value.split(",")):
        region, _, count = item.partition("=")
        region = region.strip().lower()
        if not _REGION.fullmatch(region):
            raise SettingsError(
                f"{name}: {item!r} is not a region: write regions like eastus=1,westus2=1 (name=replicas)"
            )
        replicas = count.strip() or "1"
        if not _DIGITS.fullmatch(replicas) or not 1 <= int(replicas) <= MAX_REPLICAS:
            raise SettingsError(
                f"{name}: replicas for {region} must be a whole number from 1 to {MAX_REPLICAS}"
            )
        if any(r.name == region for r in regions):
            raise SettingsError(f"{name}: region {region} is listed twice")
        regions.append(TargetRegion(region, int(replicas)))
    return tuple(regions)


def check_replica_caps(
    name: str, regions: tuple[TargetRegion, ...], max_regions: int, max_total_replicas: int
) -> None:
    """Refuse more regions, or more replicas in all, than GALLERY_PUBLISHER_MAX_REGIONS and
    GALLERY_PUBLISHER_MAX_TOTAL_REPLICAS allow: each replica is a full copy of the image, billed."""
    total = sum(region.replicas for region in regions)
    if len(regions) > max_regions:
        raise SettingsError(
            f"{name}: {len(regions)} regions, over the cap of {max_regions} ({PREFIX}MAX_REGIONS); "
            "list fewer regions or raise the cap"
        )
    if total > max_total_replicas:
        raise SettingsError(
            f"{name}: {total} replicas in all, over the cap of {max_total_replicas} "
            f"({PREFIX}MAX_TOTAL_REPLICAS); ask for fewer replicas or raise the cap"
        )


def parse_end_of_life(name: str, value: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise SettingsError(f"{name}={value!r} is not allowed: use a date like 2030-06-30") from None


def _patterns(env: Mapping[str, str], name: str, pattern: re.Pattern[str]) -> tuple[str, ...]:
    raw = env.get(name, default_text(name))  # set but empty stays empty: see _never_public
    items = tuple(item.strip().lower() for item in raw.split(",") if item.strip())
    for item in items:
        if not pattern.fullmatch(item):
            raise SettingsError(
                f"{name}: {item!r} is not allowed: use comma-separated names with * wildcards"
            )
    return items


def _never_public(env: Mapping[str, str]) -> tuple[str, ...]:
    """The never-public patterns. Each must match a family key: a typo (`kitten` for `kitten-*`)
    would otherwise protect nothing, silently. An empty list is refused for the same reason; a
    deliberately narrower list is fine."""
    name = PREFIX + "NEVER_PUBLIC"
    patterns = _patterns(env, name, _FAMILY_PATTERN)
    keys = ", ".join(family.key for family in FAMILIES)
    if not patterns:
        raise SettingsError(
            f"{name} is empty, which would let every family into the public gallery: list the family "
            f"keys that must stay private (default {default_text(name)}); the keys are {keys}"
        )
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(family.key, pattern) for family in FAMILIES):
            raise SettingsError(
                f"{name}: {pattern!r} matches no family key, so it protects nothing: use keys or "
                f"* patterns over {keys}"
            )
    return patterns


def _source_hosts(env: Mapping[str, str]) -> tuple[str, ...]:
    name = PREFIX + "ALLOWED_SOURCE_HOSTS"
    hosts = _patterns(env, name, _HOST_PATTERN)
    for host in hosts:
        # Wildcards with no name to anchor them ("*", "*.*", "*.com") would allow any bucket anywhere.
        if ("*" in host and host.count(".") < 2) or not host.replace("*", "").strip(".-"):
            raise SettingsError(
                f"{name}: {host!r} is too broad: a pattern needs a fixed domain, like *.s3.amazonaws.com"
            )
    return hosts


def _source_ports(env: Mapping[str, str]) -> tuple[int, ...]:
    name = PREFIX + "ALLOWED_SOURCE_PORTS"
    items = [item.strip() for item in _text(env, name).split(",")]
    if not all(_DIGITS.fullmatch(item) and 1 <= int(item) <= 65535 for item in items):
        raise SettingsError(f"{name}={env.get(name)!r} is not allowed: use port numbers like 443,8443")
    return tuple(dict.fromkeys(int(item) for item in items))


def _whole_number(env: Mapping[str, str], name: str, low: int, high: int) -> int:
    value = _text(env, name)
    if not _DIGITS.fullmatch(value) or not low <= int(value) <= high:
        raise SettingsError(f"{name}={value!r} is not allowed: use a whole number from {low} to {high}")
    return int(value)


def _blob_endpoint_from(connection_string: str) -> str | None:
    parts = dict(p.split("=", 1) for p in connection_string.split(";") if "=" in p)
    return parts.get("BlobEndpoint", "").rstrip("/") or None


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build the Settings from an environment mapping (os.environ in production)."""
    subscription_id = _text(env, "AZURE_SUBSCRIPTION_ID")
    resource_group = _matching(
        env, PREFIX + "RESOURCE_GROUP", _RESOURCE_GROUP, "a resource group name (1-90 characters)"
    )
    storage_account = _matching(
        env, PREFIX + "STORAGE_ACCOUNT", _STORAGE_ACCOUNT, "3-24 lower-case letters and digits"
    )
    connection_string = env.get("AZURE_STORAGE_CONNECTION_STRING", "").strip() or None
    blob_endpoint = _text(env, PREFIX + "BLOB_ENDPOINT").rstrip("/")
    if not blob_endpoint:
        from_connection = _blob_endpoint_from(connection_string) if connection_string else None
        blob_endpoint = from_connection or f"https://{storage_account}.blob.core.windows.net"
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", blob_endpoint):
        raise SettingsError(f"{PREFIX}BLOB_ENDPOINT={blob_endpoint!r} is not allowed: use an http(s) URL")
    storage_account_id = _text(
        env,
        PREFIX + "STORAGE_ACCOUNT_ID",
        f"/subscriptions/{subscription_id or '{subscription}'}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.Storage/storageAccounts/{storage_account}",
    )
    if not storage_account_id.startswith("/subscriptions/"):
        raise SettingsError(
            f"{PREFIX}STORAGE_ACCOUNT_ID={storage_account_id!r} is not allowed: use the storage account's "
            "resource id, /subscriptions/…/providers/Microsoft.Storage/storageAccounts/NAME"
        )
    local_mode = _flag(env, PREFIX + "LOCAL_MODE")
    webhook = env.get(PREFIX + "MATTERMOST_WEBHOOK_URL", "").strip() or None
    loopback = re.match(r"http://(127\.0\.0\.1|localhost)[:/]", webhook or "")
    if webhook and not webhook.startswith("https://") and not (local_mode and loopback):
        raise SettingsError(
            f"{PREFIX}MATTERMOST_WEBHOOK_URL is not allowed: it must be an https URL (plain http only to "
            "loopback in local mode)"
        )
    arm_endpoint = _text(env, PREFIX + "ARM_ENDPOINT").rstrip("/")
    if not re.fullmatch(r"https?://[^\s/?#]+", arm_endpoint):
        raise SettingsError(
            f"{PREFIX}ARM_ENDPOINT={arm_endpoint!r} is not allowed: use a scheme and host only"
        )
    max_regions = _whole_number(env, PREFIX + "MAX_REGIONS", 1, 100)
    max_total_replicas = _whole_number(env, PREFIX + "MAX_TOTAL_REPLICAS", 1, 10_000)
    regions_variable = PREFIX + "TARGET_REGIONS"
    target_regions = parse_regions(regions_variable, _text(env, regions_variable))
    check_replica_caps(regions_variable, target_regions, max_regions, max_total_replicas)
    return Settings(
        ci_gallery=_matching(env, PREFIX + "CI_GALLERY", _GALLERY_NAME, "a gallery name"),
        public_gallery=_matching(env, PREFIX + "PUBLIC_GALLERY", _GALLERY_NAME, "a gallery name"),
        resource_group=resource_group,
        subscription_id=subscription_id,
        storage_account=storage_account,
        storage_account_id=storage_account_id,
        storage_connection_string=connection_string,
        blob_endpoint=blob_endpoint,
        arm_endpoint=arm_endpoint,
        target_regions=target_regions,
        storage_account_type=_choice(env, PREFIX + "STORAGE_ACCOUNT_TYPE", STORAGE_ACCOUNT_TYPES),
        never_public=_never_public(env),
        end_of_life_date=parse_end_of_life(
            PREFIX + "END_OF_LIFE_DATE",
            env.get(PREFIX + "END_OF_LIFE_DATE", default_text(PREFIX + "END_OF_LIFE_DATE")),
        ),
        exclude_from_latest=_flag(env, PREFIX + "EXCLUDE_FROM_LATEST"),
        replication_mode=_choice(env, PREFIX + "REPLICATION_MODE", REPLICATION_MODES),
        mattermost_webhook_url=webhook,
        mattermost_channel=_text(env, PREFIX + "MATTERMOST_CHANNEL"),
        mattermost_username=_text(env, PREFIX + "MATTERMOST_USERNAME"),
        allowed_source_hosts=_source_hosts(env),
        allowed_source_ports=_source_ports(env),
        blob_trigger_dry_run=_flag(env, PREFIX + "BLOB_TRIGGER_DRY_RUN"),
        blob_trigger_public=_flag(env, PREFIX + "BLOB_TRIGGER_PUBLIC"),
        version_deadline_minutes=_whole_number(env, PREFIX + "VERSION_DEADLINE_MINUTES", 1, 7 * 24 * 60),
        poll_seconds=_whole_number(env, PREFIX + "POLL_SECONDS", 1, 3600),
        local_mode=local_mode,
        staging_deadline_minutes=_whole_number(env, PREFIX + "STAGING_DEADLINE_MINUTES", 1, 7 * 24 * 60),
        max_regions=max_regions,
        max_total_replicas=max_total_replicas,
        cleanup_after_hours=_whole_number(env, PREFIX + "CLEANUP_AFTER_HOURS", 1, 365 * 24),
        upload_settle_seconds=_whole_number(env, PREFIX + "UPLOAD_SETTLE_SECONDS", 1, 3600),
        cleanup_delete=_flag(env, PREFIX + "CLEANUP_DELETE"),
        converter=_choice(env, PREFIX + "CONVERTER", CONVERTERS),
    )
