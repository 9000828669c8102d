"""What can be checked of the deployment here: settings, README and Bicep template agree."""

from __future__ import annotations

import re
from pathlib import Path

from gallery_publisher import settings
from gallery_publisher.families import FAMILIES

REPO = Path(__file__).resolve().parent.parent
RUNTIME_SETTINGS = {
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_WORKER_RUNTIME",
    "WEBSITES_ENABLE_APP_SERVICE_STORAGE",
    "AzureWebJobsStorage",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY",
    "PYTHON_APPLICATIONINSIGHTS_LOGGER_NAME",
    "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS",
}


def test_every_variable_read_is_declared() -> None:
    source = (REPO / "gallery_publisher" / "settings.py").read_text()
    read = set(re.findall(r'PREFIX \+ "([A-Z_]+)"', source))
    read = {settings.PREFIX + name for name in read} | set(re.findall(r'"(AZURE_[A-Z_]+)"', source))
    assert read == set(settings.ENVIRONMENT_VARIABLES)


def test_bicep_app_settings_match_the_settings_object() -> None:
    template = (REPO / "infra" / "main.bicep").read_text()
    in_template = set(re.findall(r"\{ name: '([A-Za-z_]+)', value:", template)) - RUNTIME_SETTINGS
    expected = set(settings.ENVIRONMENT_VARIABLES) - set(settings.LOCAL_ONLY_VARIABLES)
    assert in_template == expected


def test_readme_documents_every_variable() -> None:
    readme = (REPO / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", readme, flags=re.MULTILINE))
    assert documented == set(settings.ENVIRONMENT_VARIABLES)


def test_bicep_routes_blob_created_to_the_event_grid_starter() -> None:
    template = (REPO / "infra" / "main.bicep").read_text()
    assert "'${app.id}/functions/start_from_blob'" in template
    assert "Microsoft.Storage.BlobCreated" in template
    declared = re.search(r"var vhdContainers = \[(.*?)\]", template)
    assert declared is not None
    containers = set(declared.group(1).replace("'", "").split(", "))
    assert containers == {family.container for family in FAMILIES}
