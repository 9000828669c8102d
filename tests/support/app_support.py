"""Helpers for end-to-end tests of the app on the local stack."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import requests
from azure.storage.blob import BlobServiceClient, ContentSettings

from gallery_publisher.staging import vhd
from gallery_publisher.urls import redact_url
from local.stack import LocalStack
from tests.support.raw_images import MIB, write_sparse_raw

# Small images keep the suite fast; the data is spread so that some chunks are skipped as zeros.
RAW_SIZE = 24 * MIB + 4096
RAW_REGIONS = [(0, 1 * MIB), (9 * MIB + 512, 2 * MIB), (RAW_SIZE - 8192, 8192)]


def put_raw(stack: LocalStack, file_name: str, seed: int = 1) -> str:
    """Put a sparse RAW on the source server; return its URL."""
    write_sparse_raw(stack.raw_path(file_name), RAW_SIZE, RAW_REGIONS, seed)
    return stack.raw_url(file_name)


def put_vhd_blob(stack: LocalStack, container: str, blob_name: str, seed: int = 2) -> str:
    """A fixed-VHD page blob uploaded by someone else (as the old pipeline did); return its URL."""
    raw = write_sparse_raw(stack.raw_path(f"upload-{blob_name}.raw"), RAW_SIZE, RAW_REGIONS, seed)
    disk = raw + bytes(vhd.padded_disk_size(len(raw)) - len(raw))
    blob = stack.blobs.get_blob_client(container, blob_name)
    image = disk + vhd.build_footer(len(disk))
    # As the old pipeline uploads: a page blob with the whole VHD's MD5 as Content-MD5.
    md5 = bytearray(hashlib.md5(image).digest())
    blob.upload_blob(image, blob_type="PageBlob", content_settings=ContentSettings(content_md5=md5))
    return redact_url(blob.url)


def key_header(stack: LocalStack) -> dict[str, str]:
    """The function key, as the release workflow sends it (the routes are authLevel function)."""
    return {"x-functions-key": stack.runner.keys.function_key}


def post(stack: LocalStack, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        f"{stack.runner.origin}/api/publish", json=body, headers=key_header(stack), timeout=30
    )


def job_status(stack: LocalStack, instance_id: str) -> dict[str, Any]:
    response = requests.get(
        f"{stack.runner.origin}/api/publish/{instance_id}", headers=key_header(stack), timeout=30
    )
    assert response.status_code in (200, 202), response.text
    data: dict[str, Any] = response.json()
    return data


def run_job(stack: LocalStack, body: dict[str, Any], timeout: float = 90) -> dict[str, Any]:
    """Submit through the HTTP API, as the release workflow does, and wait for the end."""
    response = post(stack, body)
    assert response.status_code == 202, response.text
    instance_id = response.json()["instance_id"]
    stack.runner.wait_for(instance_id, timeout)
    deadline = time.monotonic() + 10
    while (status := job_status(stack, instance_id))["runtime_status"] in ("Pending", "Running"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return status


def blob_md5(blobs: BlobServiceClient, url: str) -> tuple[str, str]:
    """(MD5 of a full download, the blob's Content-MD5), both hex."""
    container, name = url.split("/devstoreaccount1/", 1)[1].split("/", 1)
    client = blobs.get_blob_client(container, name)
    digest = hashlib.md5(client.download_blob().readall()).hexdigest()
    content_md5 = client.get_blob_properties().content_settings.content_md5
    return digest, bytes(content_md5 or b"").hex()


def vhd_footer_ok(blobs: BlobServiceClient, url: str) -> bool:
    container, name = url.split("/devstoreaccount1/", 1)[1].split("/", 1)
    client = blobs.get_blob_client(container, name)
    size = client.get_blob_properties().size
    footer = client.download_blob(offset=size - vhd.FOOTER_SIZE, length=vhd.FOOTER_SIZE).readall()
    vhd.check_fixed_vhd(size, footer)
    return True


def activity_answers(stack: LocalStack, instance_id: str) -> list[dict[str, Any]]:
    """Every activity result in an instance's history, decoded."""
    return [
        json.loads(event["Result"])
        for event in stack.runner.history(instance_id)
        if event.get("EventType") == 5 and event.get("Result")
    ]


def snapshot(stack: LocalStack) -> tuple[list[str], list[str]]:
    """Every blob in the storage account and every gallery version: what "nothing was written" compares."""
    blobs = sorted(
        f"{c.name}/{b.name}"
        for c in stack.blobs.list_containers()
        for b in stack.blobs.get_container_client(c.name).list_blobs()
    )
    store = stack.emulator.store
    with store.lock:  # the emulator may be serving a request meanwhile
        versions = sorted(
            f"{g.name}/{i.name}/{v.name}"
            for g in store.list_galleries("rg-alma-images")
            for i in store.list_images("rg-alma-images", g.name)
            for v in store.list_versions("rg-alma-images", g.name, i.name)
        )
    return blobs, versions
