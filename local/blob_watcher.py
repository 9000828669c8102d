"""Event Grid for the local stack: watch the VHD containers and announce each new blob.

Azurite sends no events, so this polls the containers and, for each blob it has not seen, announces a
BlobCreated event shaped as Azure's (Event Grid schema, JSON). The stack posts it to the host's Event Grid
system webhook with the eventgrid_extension key, which is where the Event Grid subscription of
infra/main.bicep delivers in Azure.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from azure.storage.blob import BlobServiceClient

log = logging.getLogger(__name__)


def blob_created_event(account_url: str, container: str, blob_name: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "topic": "/subscriptions/local/resourceGroups/local/providers/Microsoft.Storage/storageAccounts/local",
        "subject": f"/blobServices/default/containers/{container}/blobs/{blob_name}",
        "eventType": "Microsoft.Storage.BlobCreated",
        "eventTime": datetime.now(UTC).isoformat(),
        "data": {
            "api": "PutBlob",
            "url": f"{account_url.rstrip('/')}/{container}/{blob_name}",
            "blobType": "PageBlob",
        },
        "dataVersion": "",
        "metadataVersion": "1",
    }


class BlobWatcher:
    """Polls `containers` every `interval` seconds; calls `announce` once per new blob."""

    def __init__(
        self,
        blobs: BlobServiceClient,
        containers: Iterable[str],
        announce: Callable[[dict[str, Any]], object],
        interval: float = 1.0,
    ) -> None:
        self._blobs = blobs
        self._containers = sorted(containers)
        self._announce = announce
        self._interval = interval
        self._stop = threading.Event()
        self._seen = self._current()  # what is there at start was not "created" now
        self._thread = threading.Thread(target=self._run, name="blob-watcher", daemon=True)

    def _current(self) -> set[tuple[str, str]]:
        return {
            (container, name)
            for container in self._containers
            for name in self._blobs.get_container_client(container).list_blob_names()
        }

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                for container, name in sorted(self._current() - self._seen):
                    self._seen.add((container, name))
                    self._announce(blob_created_event(self._blobs.url, container, name))
            except Exception:
                log.exception("blob watcher: announcing a new blob failed")

    def __enter__(self) -> BlobWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
