"""The monitoring that the Bicep deploys: the workbook and the alert query name only dimensions and
events the code emits, and the templates parse (pycep-parser) and are wired together."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

from gallery_publisher import telemetry

INFRA = Path(__file__).resolve().parents[2] / "infra"
WORKBOOK = INFRA / "monitoring-workbook.json"
ALERT = INFRA / "monitoring-alert.kql"
DIMENSION = re.compile(r"customDimensions(?:\.([A-Za-z_]\w*)|\[\s*[\"']([^\"']*)[\"']\s*\])")
EVENT_TEST = re.compile(r"\bevent\s*(?:==|!=)\s*\"([^\"]*)\"")


@cache
def parsed(name: str) -> dict[str, Any]:
    # The parser's TypedDicts describe its output loosely; the tests read it as plain JSON.
    result: dict[str, Any] = json.loads(json.dumps(BicepParser().parse(file_path=INFRA / name)))
    return result


def workbook_queries() -> dict[str, str]:
    workbook = json.loads(WORKBOOK.read_text())
    return {item["name"]: item["content"]["query"] for item in workbook["items"] if item["type"] == 3}


def all_queries() -> dict[str, str]:
    return {**workbook_queries(), "alert": ALERT.read_text()}


def test_the_workbook_is_a_valid_workbook_with_the_four_views() -> None:
    workbook = json.loads(WORKBOOK.read_text())
    assert workbook["version"] == "Notebook/1.0"
    assert workbook["fallbackResourceIds"] == ["__APPLICATION_INSIGHTS_ID__"]  # set by monitoring.bicep
    names = [item["name"] for item in workbook["items"]]
    assert len(names) == len(set(names))
    for item in workbook["items"]:
        assert item["type"] in (1, 3, 9)
        if item["type"] == 3:
            content = item["content"]
            assert content["version"] == "KqlItem/1.0" and content["queryType"] == 0
            assert content["resourceType"] == "microsoft.insights/components"
            assert content["visualization"] in ("table", "linechart", "timechart")
            assert "{TimeRange}" in content["query"] and content["timeContextFromParameter"] == "TimeRange"
    [parameters] = [item for item in workbook["items"] if item["type"] == 9]
    assert [p["name"] for p in parameters["content"]["parameters"]] == ["TimeRange"]
    queries = workbook_queries()
    assert {"jobs", "failures", "replication-over-time", "staging-throughput"} <= set(queries)
    assert "customDimensions.trigger" in queries["jobs"]  # who started the job
    assert "customDimensions.error_message" in queries["failures"]  # with the Azure error


@pytest.mark.parametrize("name", sorted(all_queries()))
def test_every_query_names_only_dimensions_and_events_the_code_emits(name: str) -> None:
    query = all_queries()[name]
    dimensions = {a or b for a, b in DIMENSION.findall(query)}
    assert dimensions, f"{name} reads no dimension"
    unknown = dimensions - telemetry.ALL_DIMENSIONS
    assert not unknown, f"{name} reads {sorted(unknown)}, which gallery_publisher/telemetry.py does not emit"
    events = set(EVENT_TEST.findall(query))
    assert events, f"{name} selects no event"
    assert events <= {event.value for event in telemetry.Event}, f"{name} selects unknown events {events}"


def test_the_checks_catch_a_dimension_the_code_does_not_emit() -> None:
    assert {a or b for a, b in DIMENSION.findall('customDimensions.imag, customDimensions["blob"]')} == {
        "imag",
        "blob",
    }
    assert not {"imag", "blob"} <= telemetry.ALL_DIMENSIONS


def test_the_alert_splits_by_columns_its_query_returns() -> None:
    rule = parsed("monitoring.bicep")["resources"]["jobFailed"]
    assert rule["type"] == "Microsoft.Insights/scheduledQueryRules"
    [criterion] = rule["config"]["properties"]["criteria"]["allOf"]
    assert criterion["query"]["function"]["parameters"]["file_path"] == ALERT.name
    summarized = re.search(r"\|\s*summarize count\(\) by (.+)", ALERT.read_text())
    assert summarized is not None
    columns = {column.strip() for column in summarized.group(1).split(",")}
    assert {d["name"] for d in criterion["dimensions"]} == columns
    assert criterion["metricMeasureColumn"] == "count_"  # what summarize count() names its column
    assert rule["config"]["properties"]["actions"]["actionGroups"] == [
        {
            "operator": {
                "type": "property_accessor",
                "operands": {"operand_1": "releaseEngineers", "operand_2": "id"},
            }
        }
    ]


def test_the_action_group_sends_to_the_e_mail_and_webhook_parameters() -> None:
    template = parsed("monitoring.bicep")
    assert "secure" in [d["type"] for d in template["parameters"]["alertWebhookUrl"]["decorators"]]
    group = template["resources"]["releaseEngineers"]["config"]["properties"]
    email = group["emailReceivers"]["operator"]["operands"]
    webhook = group["webhookReceivers"]["operator"]["operands"]
    assert email["condition"]["function"]["parameters"]["item_to_test"] == "alertEmail"
    assert email["false_value"][0]["emailAddress"] == "alertEmail"
    assert webhook["condition"]["function"]["parameters"]["item_to_test"] == "alertWebhookUrl"
    assert webhook["false_value"][0]["serviceUri"] == "alertWebhookUrl"


def test_the_workbook_resource_loads_the_json_and_points_it_at_application_insights() -> None:
    workbook = parsed("monitoring.bicep")["resources"]["workbook"]
    assert workbook["type"] == "Microsoft.Insights/workbooks"
    properties = workbook["config"]["properties"]
    assert properties["displayName"] == "Gallery publishing"
    replaced = properties["serializedData"]["function"]["parameters"]
    assert replaced["original_string"]["function"]["parameters"]["file_path"] == WORKBOOK.name
    assert replaced["old_string"] == "__APPLICATION_INSIGHTS_ID__"
    assert replaced["new_string"] == properties["sourceId"] == "applicationInsightsId"


def test_main_deploys_the_monitoring_module_with_every_parameter_it_needs() -> None:
    main, module = parsed("main.bicep"), parsed("monitoring.bicep")
    [deployed] = [m for m in main["modules"].values() if m["detail"]["path"] == "monitoring.bicep"]
    given = set(deployed["config"]["params"])
    required = {n for n, p in module["parameters"].items() if "default" not in p}
    assert required <= given <= set(module["parameters"])
    assert (
        deployed["config"]["params"]["applicationInsightsId"]["operator"]["operands"]["operand_1"]
        == "insights"
    )
    assert {"alertEmail", "alertWebhookUrl"} <= set(main["parameters"])


def test_the_app_exports_our_log_records_as_custom_dimensions() -> None:
    """The worker settings that make the telemetry reach customDimensions, and keep SDK URLs out."""
    template = (INFRA / "main.bicep").read_text()
    settings = dict(re.findall(r"\{ name: '([A-Za-z_]+)', value: '([^']*)' \}", template))
    assert settings["PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"] == "true"
    assert settings["PYTHON_APPLICATIONINSIGHTS_LOGGER_NAME"] == telemetry.ROOT_LOGGER
    disabled = set(settings["OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"].split(","))
    assert {"requests", "urllib", "urllib3", "azure_sdk", "httpx"} <= disabled
    host = json.loads((INFRA.parent / "host.json").read_text())
    assert host["telemetryMode"] == "OpenTelemetry"
