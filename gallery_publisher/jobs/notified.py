"""Remember which job runs were announced, so a redelivered report posts no second notification.

Durable Functions runs an activity at least once: if the host recycles after the activity finished but
before its completion was recorded, the activity runs again. The report activity therefore records
each notification it sent as a marker blob, keyed by the job's instance id and the run (its start
time), and checks for the marker before posting. A crash between the post and the marker can still
post twice: the window is one blob write, not a whole activity.
"""

from __future__ import annotations

import hashlib

from azure.storage.blob import BlobServiceClient

from gallery_publisher.staging.storage import put_private_blob

CONTAINER = "notifications"


def _marker_name(key: str) -> str:
    # Instance ids may hold characters a blob name should not; the key itself is the blob's content.
    return hashlib.sha256(key.encode()).hexdigest() + ".txt"


def already_notified(blobs: BlobServiceClient, key: str) -> bool:
    """Whether a notification for this run was recorded (a missing container means none was)."""
    return bool(blobs.get_blob_client(CONTAINER, _marker_name(key)).exists())


def record_notified(blobs: BlobServiceClient, key: str) -> None:
    put_private_blob(blobs, CONTAINER, _marker_name(key), key.encode())
