"""`GET /api/jobs` (the page) and `GET /api/jobs/list` (recent jobs, JSON), both behind the function key.

The page is one static file: it reads everything from the JSON routes (this list and the status API,
`/api/publish/{instance_id}`), so nothing of a job is ever written into HTML on the server, and the
page builds its DOM with text nodes only.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from orchestrators import names

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)

RECENT = timedelta(days=7)
MOST_JOBS = 50
PAGE = Path(__file__).parent / "jobs.html"


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@functools.cache
def _page() -> tuple[bytes, dict[str, str]]:
    """The page and its headers. The policy allows its own script and style only (by their hashes), so
    even markup that slipped into the page could run nothing."""
    html = PAGE.read_text()
    script = re.search(r"<script>(.*?)</script>", html, re.DOTALL)
    style = re.search(r"<style>(.*?)</style>", html, re.DOTALL)
    assert script and style, f"{PAGE} has lost its <script> or <style>"
    policy = (
        f"default-src 'none'; script-src {_sha256(script.group(1))}; style-src {_sha256(style.group(1))}; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    headers = {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",  # the page's URL may carry the function key (?code=)
        "Cache-Control": "no-store",
    }
    return html.encode(), headers


def recent_jobs(statuses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Publishing jobs (not their gallery-version children), newest first, at most MOST_JOBS."""
    jobs = [
        {
            "instance_id": s["instance_id"],
            "runtime_status": s["runtime_status"],
            "step": (s["custom_status"] or {}).get("step", ""),
            "image": (s["custom_status"] or {}).get("image", ""),
            "created_time": s["created_time"],
            "last_updated_time": s["last_updated_time"],
        }
        for s in statuses
        if s["name"] == names.PUBLISH_IMAGE
    ]
    return sorted(jobs, key=lambda job: job["created_time"], reverse=True)[:MOST_JOBS]


@bp.route(route="jobs", methods=["GET"])
def job_page(req: func.HttpRequest) -> func.HttpResponse:
    body, headers = _page()
    return func.HttpResponse(body, status_code=200, mimetype="text/html", headers=headers)


@bp.route(route="jobs/list", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def list_jobs(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    statuses = await client.get_status_by(created_time_from=datetime.now(UTC) - RECENT)
    listed = recent_jobs(
        [
            {
                "instance_id": s.instance_id,
                "name": s.name,
                "runtime_status": s.runtime_status.value if s.runtime_status else "Unknown",
                "custom_status": s.custom_status if isinstance(s.custom_status, dict) else None,
                "created_time": s.created_time.isoformat() if s.created_time else "",
                "last_updated_time": s.last_updated_time.isoformat() if s.last_updated_time else "",
            }
            for s in statuses
        ]
    )
    return func.HttpResponse(json.dumps({"jobs": listed}), status_code=200, mimetype="application/json")
