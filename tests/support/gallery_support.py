"""Helpers for the gallery tests: a fast emulator, SDK clients on it, version bodies, VHD blobs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute import models as m

from gallery_publisher.gallery.arm_client import compute_client
from gallery_publisher.gallery.client import GalleryClient
from gallery_publisher.gallery.records import PollOutcome, VersionRef, VersionStatus
from gallery_publisher.planning.settings import Settings
from local.gallery_emulator import EmulatorConfig

RG = "rg-alma-images"
CI = "almalinux_ci"
# Azurite's account (devstoreaccount1, which holds SOURCE) as ARM names it.
ACCOUNT_ID = "/subscriptions/sub/resourceGroups/rg-alma-images/providers/Microsoft.Storage/storageAccounts/devstoreaccount1"
# 0.002: validation 0.24 s, regions 1.2-2.2 s, deletion 0.12 s; Retry-After is then 1 s.
FAST = EmulatorConfig(time_scale=0.002, storage_account_id=ACCOUNT_ID)
SOURCE = "http://127.0.0.1:1/devstoreaccount1/9-default/almalinux-9.6-x86_64.20250522-01.vhd"


def local_settings(base_url: str, **overrides: Any) -> Settings:
    return Settings(local_mode=True, arm_endpoint=base_url, **overrides)


def sdk(base_url: str) -> ComputeManagementClient:
    """The real SDK client, built as the app builds it in local mode."""
    return compute_client(local_settings(base_url))


def version_json(source: str = SOURCE, regions: tuple[str, ...] = ("eastus", "westus2")) -> dict[str, Any]:
    """A version PUT body as Azure documents it (raw JSON, for raw HTTP requests)."""
    return {
        "location": "eastus",
        "tags": {"source": source},
        "properties": {
            "publishingProfile": {
                "targetRegions": [{"name": r, "regionalReplicaCount": 1} for r in regions],
                "storageAccountType": "Standard_LRS",
            },
            "storageProfile": {"osDiskImage": {"source": {"uri": source, "storageAccountId": ACCOUNT_ID}}},
        },
    }


def wait_until(condition: Callable[[], bool], timeout: float = 15.0, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def version_body(
    source: str = SOURCE, regions: tuple[str, ...] = ("eastus", "westus2")
) -> m.GalleryImageVersion:
    """The same body as an SDK model (the SDK sends its mapping unchanged)."""
    return m.GalleryImageVersion(version_json(source, regions))


def poll_until_finished(
    gallery: GalleryClient, ref: VersionRef, operation_url: str | None = None
) -> list[VersionStatus]:
    """Poll as the orchestrator would (with short sleeps standing in for timers) until it ends."""
    statuses = [gallery.poll_version(ref, operation_url)]
    deadline = time.monotonic() + 20
    while statuses[-1].outcome in (PollOutcome.IN_PROGRESS, PollOutcome.RETRY):
        if time.monotonic() > deadline:
            raise AssertionError(f"{ref} did not finish: {statuses[-1]}")
        time.sleep(0.05)
        statuses.append(gallery.poll_version(ref, operation_url))
    return statuses
