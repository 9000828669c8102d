"""Incomplete blobs our stager left behind (a failed source, a checksum mismatch, a dead worker).

Only blobs whose metadata proves our stager wrote them (it records the source URL from the moment
it creates one) and that never got their Content-MD5 (written last) are leftovers, and only once
they are older than the configured age. A blob whose lease is held is being staged right now.
By default they are only listed; deleting them is a setting.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobServiceClient

from gallery_publisher.planning.settings import Settings
from gallery_publisher.staging import storage
from gallery_publisher.urls import redact_url


@dataclass(frozen=True)
class Leftover:
    container: str
    name: str
    source_url: str
    last_modified: datetime
    etag: str


@dataclass(frozen=True)
class CleanUp:
    leftovers: tuple[Leftover, ...]
    deleted: tuple[Leftover, ...]
    failures: tuple[str, ...]  # why a leftover could not be deleted (it changed, or Azure refused)

    def describe(self) -> str:
        action = (
            "deleted" if self.deleted else "found (dry run: set GALLERY_PUBLISHER_CLEANUP_DELETE to delete)"
        )
        lines = [f"{len(self.leftovers)} incomplete blob(s) left by our stager {action}"]
        lines += [f"- {b.container}/{b.name} from {b.source_url}, last written {b.last_modified:%Y-%m-%d %H:%M}Z"
                  for b in self.leftovers]  # fmt: skip
        lines += [f"- not deleted: {failure}" for failure in self.failures]
        return "\n".join(lines)


def find_leftovers(
    blobs: BlobServiceClient, containers: Iterable[str], older_than: timedelta, now: datetime
) -> list[Leftover]:
    found = []
    for container in containers:
        client = blobs.get_container_client(container)
        if not client.exists():
            continue
        for properties in client.list_blobs(include=["metadata"]):
            source_url = (properties.metadata or {}).get(storage.SOURCE_URL)
            if (
                source_url is None  # not ours: someone else's upload is never touched
                or properties.content_settings.content_md5  # complete
                or properties.lease.state == "leased"  # being staged now
                or now - properties.last_modified < older_than
            ):
                continue
            found.append(
                Leftover(container, properties.name, redact_url(source_url), properties.last_modified, properties.etag)
            )  # fmt: skip
    return found


def clean_up_leftovers(
    blobs: BlobServiceClient, settings: Settings, containers: Iterable[str], now: datetime
) -> CleanUp:
    """List the leftovers, and delete them when the settings say so; each delete is conditional on
    the ETag that was listed, so a blob a new staging touched meanwhile is kept."""
    leftovers = find_leftovers(blobs, containers, timedelta(hours=settings.cleanup_after_hours), now)
    deleted, failures = [], []
    if settings.cleanup_delete:
        for leftover in leftovers:
            blob = blobs.get_blob_client(leftover.container, leftover.name)
            try:
                blob.delete_blob(etag=leftover.etag, match_condition=MatchConditions.IfNotModified)
                deleted.append(leftover)
            except HttpResponseError as error:
                failures.append(f"{leftover.container}/{leftover.name}: {error.reason or error.status_code}")
    return CleanUp(tuple(leftovers), tuple(deleted), tuple(failures))
