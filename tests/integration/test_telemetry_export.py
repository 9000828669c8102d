"""What Application Insights receives: the real Azure Monitor OpenTelemetry distro, configured as the
Python worker configures it (configure_azure_monitor with the Bicep's app settings), exports our
events to a loopback ingestion endpoint; their dimensions arrive as customDimensions (the envelope's
`properties`), and no secret arrives at all."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SECRET = "SECRET-5d41402abc4b2a76b9719d911017c592"

# Runs in its own process: the distro sets process-wide OpenTelemetry providers.
EMITTER = f"""
import logging, os
import requests
from azure.monitor.opentelemetry import configure_azure_monitor
from opentelemetry._logs import get_logger_provider
from opentelemetry.trace import get_tracer_provider
from gallery_publisher import telemetry

# What the worker does with PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true.
configure_azure_monitor(
    connection_string=os.environ["APPLICATIONINSIGHTS_CONNECTION_STRING"],
    logger_name=os.environ["PYTHON_APPLICATIONINSIGHTS_LOGGER_NAME"],
)
logging.getLogger().setLevel(logging.INFO)
log = telemetry.job_logger("gallery_publisher.activities")
job = telemetry.job_dimensions("job-1", "AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw", "stage", "almalinux_ci",
                               "almalinux-9-gen1,almalinux-9-gen2", "9.6.2025052201")
with telemetry.job_context(job):
    telemetry.emit(log, telemetry.Event.STAGED, "staged https://x.blob.core.windows.net/c/b.vhd?sig={SECRET}",
                   bytes=536871424, seconds=12.5, reused=False)
    telemetry.emit(log, telemetry.Event.NOTIFICATION_FAILED, "notification not sent",
                   error_message="https://chat.example/hooks/abc?token={SECRET} refused", level=logging.WARNING)
# Not ours: the SDKs' lines (urllib3 logs request lines with query strings) stay out.
logging.getLogger("urllib3.connectionpool").warning("GET /blob?sig={SECRET}")
# An HTTP call with a presigned URL: with the HTTP instrumentations off, no dependency carries it.
requests.get(os.environ["PROBE_URL"] + "?X-Amz-Signature={SECRET}", timeout=10)
get_logger_provider().force_flush()
get_tracer_provider().force_flush()
"""


class Ingestion:
    """Application Insights' track endpoint on loopback: keeps every envelope posted to it."""

    def __init__(self) -> None:
        self.envelopes: list[dict[str, Any]] = []
        self.paths: list[str] = []
        ingestion = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                ingestion.paths.append(self.path)
                items = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
                items = [e for item in items for e in (item if isinstance(item, list) else [item])]
                ingestion.envelopes.extend(items)
                self._reply({"itemsReceived": len(items), "itemsAccepted": len(items), "errors": []})

            def do_GET(self) -> None:
                ingestion.paths.append(self.path)
                self._reply({})

            def _reply(self, value: dict[str, Any]) -> None:
                data = json.dumps(value).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def ingestion() -> Iterator[Ingestion]:
    server = Ingestion()
    yield server
    server.server.shutdown()


def _app_settings() -> dict[str, str]:
    template = (REPO / "infra" / "main.bicep").read_text()
    return dict(re.findall(r"\{ name: '([A-Za-z_]+)', value: '([^']*)' \}", template))


def test_events_reach_application_insights_as_custom_dimensions_and_secrets_do_not(
    ingestion: Ingestion, tmp_path: Path
) -> None:
    settings = _app_settings()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "APPLICATIONINSIGHTS_"))},
        "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
        f"IngestionEndpoint={ingestion.url};LiveEndpoint={ingestion.url}",
        "PYTHON_APPLICATIONINSIGHTS_LOGGER_NAME": settings["PYTHON_APPLICATIONINSIGHTS_LOGGER_NAME"],
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": settings["OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"],
        "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "azure_functions",  # what the worker sets
        "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",  # no call home from a closed network
        "PROBE_URL": ingestion.url + "probe",
        "TMPDIR": str(tmp_path),  # the exporter's offline storage
        "PYTHONPATH": str(REPO),
    }
    done = subprocess.run(
        [sys.executable, "-c", EMITTER], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    messages = [e for e in ingestion.envelopes if e["data"]["baseType"] == "MessageData"]
    by_event = {m["data"]["baseData"]["properties"].get("event"): m["data"]["baseData"] for m in messages}
    assert set(by_event) == {"staged", "notification_failed"}, [m["data"]["baseData"] for m in messages]
    staged = by_event["staged"]["properties"]
    assert {
        name: staged[name] for name in ("instance_id", "image", "step", "gallery", "definition", "version")
    } == {
        "instance_id": "job-1",
        "image": "AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw",
        "step": "stage",
        "gallery": "almalinux_ci",
        "definition": "almalinux-9-gen1,almalinux-9-gen2",
        "version": "9.6.2025052201",
    }
    assert (staged["bytes"], staged["seconds"], staged["reused"]) == ("536871424", "12.5", "False")
    assert by_event["staged"]["message"] == "staged https://x.blob.core.windows.net/c/b.vhd"
    assert (
        by_event["notification_failed"]["properties"]["error_message"]
        == "https://chat.example/hooks/abc refused"
    )
    assert any(path.startswith("/probe?") for path in ingestion.paths)  # the probe call was made...
    assert SECRET not in json.dumps(ingestion.envelopes)  # ...and nothing carries a secret
