"""One writer per staged blob: a blob lease held for the whole staging, renewed while it runs.

Two jobs can stage the same RAW into the same blob (a CI and a public request for one image plan
the same name). Without a writer lock the second re-creates the blob under the first, and the first
then seals mixed bytes with its MD5. A lease is Azure's lock: every write must carry its id, so a
job whose lease was lost (or never held) can write nothing. The lease is short (Azure allows 15-60
s) and renewed by a thread, so a worker that dies frees the blob within a minute.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ClassVar

from azure.core.exceptions import AzureError, HttpResponseError
from azure.storage.blob import BlobClient, BlobLeaseClient

from gallery_publisher.errors import PublishError
from gallery_publisher.urls import redact_url

LEASE_SECONDS = 15  # Azure's shortest lease: a dead writer blocks the blob the least time
RENEW_EVERY = 5.0  # three renewals per lease period: one failed renewal does not lose it
WAIT_POLL = 1.0  # how often a job waiting for another's staging checks the lease again

log = logging.getLogger(__name__)


class BlobBusyError(PublishError):
    """Another job held the blob's lease for longer than this job may wait."""

    code: ClassVar[str] = "BlobBusy"


def _lease_held_by_another(error: HttpResponseError) -> bool:
    return error.status_code == 409  # LeaseAlreadyPresent


@contextmanager
def staging_lease(
    blob: BlobClient,
    wait_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[BlobLeaseClient]:
    """Hold the blob's lease for the body of the `with`, waiting up to `wait_seconds` for it.

    While another job stages the blob, this one waits: when its turn comes the blob is complete and
    can be reused, or was left unfinished and is staged again, never by two at once."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            lease = blob.acquire_lease(lease_duration=LEASE_SECONDS)
            break
        except HttpResponseError as error:
            if not _lease_held_by_another(error):
                raise
            if time.monotonic() >= deadline:
                raise BlobBusyError(
                    f"{redact_url(blob.url)} is being staged by another job (it holds the blob's lease) "
                    f"and did not finish within {wait_seconds:.0f} s; re-run this request once that job "
                    "has ended: it then reuses or finishes the blob"
                ) from None
            sleep(WAIT_POLL)
    stop = threading.Event()
    renewer = threading.Thread(
        target=_renew, args=(lease, stop, redact_url(blob.url)), name="lease-renewer", daemon=True
    )
    renewer.start()
    try:
        yield lease
    finally:
        stop.set()
        renewer.join()
        # Expired or lost: another job may hold it now, and nothing of ours is left to protect.
        with contextlib.suppress(AzureError):
            lease.release()


def _renew(lease: BlobLeaseClient, stop: threading.Event, shown: str) -> None:
    """Renew until told to stop. A renewal that fails is tried again at the next tick; if the lease
    is lost meanwhile, the stager's next write fails (wrong lease id), which ends the staging."""
    while not stop.wait(RENEW_EVERY):
        try:
            lease.renew()
        except AzureError as error:  # a refusal or a broken connection alike: the thread must live on
            log.warning(
                "renewing the lease of %s failed (tried again shortly): %s", shown, type(error).__name__
            )
