"""Ten images of mixed families published at once on the local stack: all complete, and no two
jobs ever share a blob name or a version, even two builds of the same release, date and type."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from local.stack import LocalStack, StackOptions, local_stack
from tests.support.app_support import post, put_raw, run_job
from tests.support.integrity import check_integrity

IMAGES = [
    "AlmaLinux-9-Azure-9.6-20251201.0.x86_64.raw",
    "AlmaLinux-9-Azure-9.6-20251201.1.x86_64.raw",  # same release, date and type: must get index 02
    "AlmaLinux-9-Azure-9.6-20251201.0.aarch64.raw",
    "AlmaLinux-9-Azure-9.6-20251201.0-64k.aarch64.raw",
    "AlmaLinux-8-Azure-8.10-20251201.0.x86_64.raw",
    "AlmaLinux-8-Azure-8.10-20251201.0.aarch64.raw",
    "AlmaLinux-10-Azure-10.0-20251201.0.x86_64.raw",
    "AlmaLinux-10-Azure-10.0-20251201.0-64k.aarch64.raw",
    "AlmaLinux-Kitten-Azure-10-20251201.0.x86_64.raw",
    "AlmaLinux-Kitten-Azure-10-20251201.0.aarch64.raw",
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    options = StackOptions(workdir=tmp_path_factory.mktemp("stack"), time_scale=0.002)
    with local_stack(options) as running:
        yield running


def test_ten_images_at_once(stack: LocalStack) -> None:
    began = time.monotonic()
    single = run_job(
        stack, {"image_url": put_raw(stack, "AlmaLinux-9-Azure-9.6-20251130.0.x86_64.raw"), "dry_run": False}
    )
    one_image = time.monotonic() - began
    assert single["runtime_status"] == "Completed", single["summary"]

    urls = [put_raw(stack, name, seed=n) for n, name in enumerate(IMAGES)]
    began = time.monotonic()
    with ThreadPoolExecutor(len(urls)) as pool:
        started = list(pool.map(lambda url: post(stack, {"image_url": url, "dry_run": False}), urls))
    assert [response.status_code for response in started] == [202] * len(urls)
    statuses = [stack.runner.wait_for(response.json()["instance_id"], 180) for response in started]
    ten_images = time.monotonic() - began

    assert [s.runtime_status.value for s in statuses] == ["Completed"] * len(urls), [
        s.error for s in statuses
    ]
    results = [s.output["result"] for s in statuses]
    blob_urls = [r["plan"]["blob_url"] for r in results]
    versions = [f"{v['gallery']}/{v['definition']}/{v['version']}" for r in results for v in r["versions"]]
    assert len(set(blob_urls)) == len(blob_urls)
    assert len(set(versions)) == len(versions) == 15
    same_day = sorted(
        url.rsplit("/", 1)[1] for url in blob_urls if "x86_64.20251201" in url and "/9-default/" in url
    )
    assert same_day == ["almalinux-9.6-x86_64.20251201-01.vhd", "almalinux-9.6-x86_64.20251201-02.vhd"]
    integrity = check_integrity(stack)
    assert integrity.incomplete_blobs == 0 and integrity.versions == 17
    print(f"\nload: 1 image {one_image:.1f} s; {len(urls)} images at once {ten_images:.1f} s "
          f"({ten_images / one_image:.1f}x one image)")  # fmt: skip
