"""The invariants every fault must leave intact, checked on the local stack's real state.

- Every blob in a VHD container is either complete and correct (a full download hashes to its
  Content-MD5, its recorded MD5 agrees, its footer is a valid fixed-disk footer of its size), or
  visibly incomplete (no Content-MD5).
- No gallery version points at a missing, incomplete or different blob (the MD5 it was tagged with
  is the blob's).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from gallery_publisher.planning.families import FAMILIES
from gallery_publisher.staging import vhd
from local.azurite import ACCOUNT_NAME
from local.stack import LocalStack

RESOURCE_GROUP = "rg-alma-images"


@dataclass(frozen=True)
class Integrity:
    complete_blobs: int
    incomplete_blobs: int
    versions: int


def check_integrity(stack: LocalStack, verified: dict[str, str] | None = None) -> Integrity:
    """`verified` (blob path -> ETag) remembers blobs already downloaded and checked, so a test
    module checking after every test does not download every blob again."""
    verified = {} if verified is None else verified
    complete: dict[str, str] = {}  # container/blob -> Content-MD5 hex
    incomplete = 0
    for container in sorted({family.container for family in FAMILIES}):
        client = stack.blobs.get_container_client(container)
        for item in client.list_blobs(include=["metadata"]):
            blob = client.get_blob_client(item.name)
            content_md5 = item.content_settings.content_md5
            if not content_md5:
                incomplete += 1
                continue
            path = f"{container}/{item.name}"
            if verified.get(path) == item.etag:
                complete[path] = bytes(content_md5).hex()
                continue
            data = blob.download_blob().readall()
            assert hashlib.md5(data).digest() == bytes(content_md5), (
                f"{item.name}: content differs from Content-MD5"
            )
            metadata = item.metadata or {}
            if "source_url" in metadata:  # staged by us: the MD5 we recorded must agree too
                assert metadata.get("md5") == bytes(content_md5).hex(), f"{item.name}: metadata MD5 differs"
            vhd.check_fixed_vhd(len(data), data[-vhd.FOOTER_SIZE :])
            complete[path] = bytes(content_md5).hex()
            verified[path] = item.etag
    store = stack.emulator.store
    with store.lock:  # the emulator may be serving a request meanwhile
        found = [
            (f"{gallery.name}/{image.name}/{version.name}", version.source_uri, version.tags.get("md5"))
            for gallery in store.list_galleries(RESOURCE_GROUP)
            for image in store.list_images(RESOURCE_GROUP, gallery.name)
            for version in store.list_versions(RESOURCE_GROUP, gallery.name, image.name)
        ]
    versions = len(found)
    for where, source_uri, tagged in found:
        # Blob URLs differ by endpoint (Azurite, or the proxy in front of it): compare paths.
        source = source_uri.split(f"/{ACCOUNT_NAME}/", 1)[-1]
        assert source in complete, f"{where} points at a missing or incomplete blob"
        assert tagged in (None, "", complete[source]), f"{where} was made from another blob"
    return Integrity(len(complete), incomplete, versions)
