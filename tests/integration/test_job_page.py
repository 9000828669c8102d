"""The job page in a real browser: Debian's Chromium, headless, driven by Playwright, loads
`/api/jobs` during a local job and watches its progress move until the summary appears."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from playwright.sync_api import BrowserContext, Page, Route, sync_playwright

from job_page.blueprint import recent_jobs
from local.stack import LocalStack, StackOptions, local_stack
from tests.support.app_support import key_header, post, put_raw

CHROMIUM = "/usr/bin/chromium"  # Debian's package, installed by `make setup`
# Headless on a closed network: nothing that would phone home or need a GPU.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    # 1/100 of Azure's pace, as `make run`: a region replicates in about 6 s, a poll every 0.6 s.
    options = StackOptions(workdir=tmp_path_factory.mktemp("stack"), time_scale=0.01)
    with local_stack(options) as running:
        yield running


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh --user-data-dir
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()


def _region_progress(page: Page) -> dict[str, int]:
    """Per version and region, the progress bar's value."""
    bars = page.eval_on_selector_all(
        "table.regions tr[data-region]",
        "rows => rows.map(r => [r.closest('table').dataset.version + ' ' + r.dataset.region,"
        " Number(r.querySelector('[role=progressbar]').getAttribute('aria-valuenow'))])",
    )
    return {name: value for name, value in bars}


def test_the_page_follows_a_local_job_until_its_summary(
    stack: LocalStack, browser: BrowserContext, tmp_path: Path
) -> None:
    url = put_raw(stack, "AlmaLinux-9-Azure-9.6-20251203.0.x86_64.raw")
    started = post(stack, {"image_url": url, "dry_run": False})
    assert started.status_code == 202, started.text
    instance_id = started.json()["instance_id"]
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(f"{stack.runner.origin}/api/jobs?code={stack.runner.keys.function_key}#{instance_id}")

    seen: dict[str, list[int]] = {}
    deadline = time.monotonic() + 120
    while not page.locator("#summary").count():
        assert time.monotonic() < deadline, f"no summary on the page; progress seen: {seen}"
        for name, value in _region_progress(page).items():
            if not seen.get(name) or seen[name][-1] != value:
                seen.setdefault(name, []).append(value)
        time.sleep(0.2)
    page.screenshot(path=str(tmp_path / "job-page.png"), full_page=True)

    assert page.locator("#runtime-status").inner_text() == "Completed"
    assert "null" not in page.locator("#detail").inner_text()
    summary = page.locator("#summary").inner_text()
    assert "Released to Gallery: ✅" in summary and "**" not in summary
    assert page.locator("#summary strong").first.inner_text().startswith("AlmaLinux OS 9.6 x86_64")
    # Progress moved: some region was seen part-way, and every region ended at 100 %.
    assert len(seen) == 10, seen
    assert any(0 < value < 100 for values in seen.values() for value in values), seen
    assert set(_region_progress(page).values()) == {100}
    assert page.locator("#staging-bar").get_attribute("aria-valuenow") == "100"
    steps = {
        row.get_attribute("data-step"): row.inner_text() for row in page.locator("#steps tr[data-step]").all()
    }
    assert "done" in steps["plan"] and "done" in steps["stage"] and "done" in steps["publish"]
    page.wait_for_selector("#jobs li.selected .state.Completed", timeout=10_000)  # the list follows
    assert errors == []


HOSTILE = '<img src=x onerror="window.pwned=1">'


def test_the_page_escapes_everything(stack: LocalStack, browser: BrowserContext) -> None:
    """Whatever a status holds is shown as text: markup in it creates no element and runs nothing."""
    status = {
        "instance_id": HOSTILE, "runtime_status": "Failed", "step": "failed", "progress": [],
        "versions": [{"version": HOSTILE, "state": HOSTILE,
                      "regions": [{"region": HOSTILE, "state": "Failed", "progress": 40}]}],
        "staging": None,
        "summary": f"**{HOSTILE}** `{HOSTILE}`\n- {HOSTILE}\n  - <script>window.pwned=2</script>",
        "output": {"failed_step": "publish", "error_code": HOSTILE, "error_message": HOSTILE,
                   "durations": {"plan": 1.0}, "versions": []},
        "created_time": HOSTILE, "last_updated_time": "",
    }  # fmt: skip
    listing = {"jobs": [{"instance_id": HOSTILE, "runtime_status": HOSTILE, "step": HOSTILE,
                         "image": HOSTILE, "created_time": HOSTILE, "last_updated_time": ""}]}  # fmt: skip
    page = browser.new_page()
    keys: list[str | None] = []

    def answer(route: Route) -> None:
        keys.append(route.request.headers.get("x-functions-key"))
        body = listing if route.request.url.endswith("/api/jobs/list") else status
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route("**/api/jobs/list", answer)
    page.route("**/api/publish/**", answer)
    key = stack.runner.keys.function_key
    page.goto(f"{stack.runner.origin}/api/jobs?code={key}#{quote(HOSTILE, safe='')}")
    page.wait_for_selector("#summary")
    assert page.evaluate("window.pwned") is None
    assert page.locator("img, script:not(:first-of-type)").count() == 0
    assert page.locator("body script").count() == 1  # the page's own
    assert HOSTILE in page.locator("#detail").inner_text()
    assert HOSTILE in page.locator("#jobs").inner_text()
    assert "<script>window.pwned=2</script>" in page.locator("#summary").inner_text()
    assert keys and set(keys) == {key}  # the function key of the page's URL goes with every call


def test_the_page_uses_no_html_sinks_and_a_strict_policy(stack: LocalStack) -> None:
    assert (
        requests.get(f"{stack.runner.origin}/api/jobs", timeout=10).status_code == 401
    )  # authLevel function
    response = requests.get(f"{stack.runner.origin}/api/jobs", headers=key_header(stack), timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in response.text
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'sha256-" in policy and "unsafe-inline" not in policy
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_recent_jobs_lists_publishing_jobs_newest_first() -> None:
    def status(instance_id: str, name: str, created: str) -> dict[str, object]:
        return {"instance_id": instance_id, "name": name, "runtime_status": "Running",
                "custom_status": {"step": "stage", "image": f"{instance_id}.raw"},
                "created_time": created, "last_updated_time": created}  # fmt: skip

    listed = recent_jobs(
        [
            status("a", "publish_image", "2026-01-01T00:00:00+00:00"),
            status("a:almalinux-9-gen1", "gallery_version", "2026-01-01T00:01:00+00:00"),
            status("b", "publish_image", "2026-01-02T00:00:00+00:00"),
        ]
    )
    assert [(job["instance_id"], job["image"], job["step"]) for job in listed] == [
        ("b", "b.raw", "stage"),
        ("a", "a.raw", "stage"),
    ]


def test_the_runners_listing_honours_the_extensions_filters(stack: LocalStack) -> None:
    listing = f"{stack.runner.origin}/durabletask/instances/"
    every = requests.get(listing, timeout=10).json()
    assert every  # the jobs of the tests above
    assert (
        requests.get(listing, params={"createdTimeFrom": "2999-01-01T00:00:00.000000Z"}, timeout=10).json()
        == []
    )
    assert len(
        requests.get(listing, params={"createdTimeTo": "2999-01-01T00:00:00Z"}, timeout=10).json()
    ) == len(every)
    running = requests.get(listing, params={"runtimeStatus": "Running,Pending"}, timeout=10).json()
    assert all(s["runtimeStatus"] in ("Running", "Pending") for s in running) and len(running) < len(every)
    prefix = every[0]["instanceId"][:12]
    assert {
        s["instanceId"] for s in requests.get(listing, params={"instanceIdPrefix": prefix}, timeout=10).json()
    } == {s["instanceId"] for s in every if s["instanceId"].startswith(prefix)}
    assert requests.get(listing, params={"createdTimeFrom": "yesterday"}, timeout=10).status_code == 400
