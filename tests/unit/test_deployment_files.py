"""What can be checked of the deployment here: settings, README, Dockerfile and the Bicep templates
(parsed with pycep-parser) agree, and the templates keep the rules of issue 10 §6."""

from __future__ import annotations

import re
import shlex
from functools import cache
from pathlib import Path
from typing import Any, cast

import pytest
from pycep import BicepParser

import function_app
from gallery_publisher.planning import settings
from gallery_publisher.planning.families import FAMILIES

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
RUNTIME_SETTINGS = {
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_WORKER_RUNTIME",
    "WEBSITES_ENABLE_APP_SERVICE_STORAGE",
    "AzureWebJobsStorage__accountName",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY",
    "PYTHON_APPLICATIONINSIGHTS_LOGGER_NAME",
    "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS",
}
REGISTRY_SETTINGS = {
    "DOCKER_REGISTRY_SERVER_URL",
    "DOCKER_REGISTRY_SERVER_USERNAME",
    "DOCKER_REGISTRY_SERVER_PASSWORD",
}
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
# How the README's role table names the scope of each assignment in the templates.
README_SCOPES = {
    "hostStorage": "host storage account",
    "images": "images storage account",
    "galleries": "each gallery",
    "registry": "container registry (only with `acrName`)",
}


@cache
def template(name: str) -> dict[str, Any]:
    return cast(dict[str, Any], BicepParser().parse(file_path=INFRA / name))


def _body(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource's properties, inside a loop or condition when there is one."""
    config: dict[str, Any] = resource["config"]
    return config["config"] if "loop_type" in config or "condition" in config else config


def _accessor(value: Any) -> tuple[str, str] | None:
    """(`a`, `b`) for the expression `a.b`."""
    operator = value.get("operator", {}) if isinstance(value, dict) else {}
    if operator.get("type") != "property_accessor":
        return None
    operands = operator["operands"]
    return (operands["operand_1"], operands["operand_2"]) if isinstance(operands["operand_2"], str) else None


def _role_ids(tree: dict[str, Any], resource: dict[str, Any]) -> list[str]:
    """The role definition ids a (possibly looped) role assignment resource assigns."""
    variables = {name: v["value"] for name, v in tree["variables"].items()}

    def resolve(value: Any) -> Any:
        accessed = _accessor(value)
        if accessed:
            return resolve(variables[accessed[0]])[accessed[1]]
        return resolve(variables[value]) if isinstance(value, str) and value in variables else value

    definition = _body(resource)["properties"]["roleDefinitionId"]["function"]
    assert definition["type"] == "subscription_resource_id"
    assert definition["parameters"]["resource_type"] == "Microsoft.Authorization/roleDefinitions"
    role = definition["parameters"]["resource_name_1"]
    loop = resource["config"].get("loop_type")
    if loop and role == loop["detail"]["item_name"]:
        return [resolve(item) for item in resolve(loop["detail"]["array_name"])]
    return [resolve(role)]


def _scope_name(scope: Any) -> str:
    if isinstance(scope, dict):  # galleries[i]
        return str(scope["operator"]["operands"]["operand_1"])
    return str(scope)


def role_assignments() -> set[tuple[str, str]]:
    """(scope, role definition id) of every role assignment in the templates."""
    found = set()
    for name in ("main.bicep", "gallery-role.bicep", "events.bicep"):
        tree = template(name)
        for resource in tree["resources"].values():
            if resource["type"] == "Microsoft.Authorization/roleAssignments":
                scope = _scope_name(_body(resource)["scope"])
                found |= {(scope, role) for role in _role_ids(tree, resource)}
    return found


def app_settings() -> tuple[set[str], set[str]]:
    """(names always set, names set only without ACR) of the app's settings."""
    site = _body(template("main.bicep")["resources"]["app"])["properties"]["siteConfig"]
    parts = site["appSettings"]["function"]["parameters"]
    assert site["appSettings"]["function"]["type"] == "concat" and len(parts) == 2
    registry = parts["arg_1"]["operator"]
    assert registry["type"] == "conditional" and registry["operands"]["condition"] == "useAcr"
    assert registry["operands"]["true_value"] == []
    only_without_acr = {entry["name"] for entry in registry["operands"]["false_value"]}
    return {entry["name"] for entry in parts["arg_2"]}, only_without_acr


def readme_section(title: str) -> str:
    readme = (REPO / "README.md").read_text()
    start = readme.index(f"## {title}\n")
    return readme[start : readme.index("\n## ", start + 1)]


def test_every_variable_read_is_declared() -> None:
    source = (REPO / "gallery_publisher" / "planning" / "settings.py").read_text()
    read = set(re.findall(r'PREFIX \+ "([A-Z_]+)"', source))
    read = {settings.PREFIX + name for name in read} | set(re.findall(r'"(AZURE_[A-Z_]+)"', source))
    assert read == set(settings.ENVIRONMENT_VARIABLES)


def test_readme_documents_every_variable() -> None:
    readme = (REPO / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", readme, flags=re.MULTILINE))
    assert documented == set(settings.ENVIRONMENT_VARIABLES)


def test_bicep_app_settings_match_the_settings_object() -> None:
    always, without_acr = app_settings()
    expected = set(settings.ENVIRONMENT_VARIABLES) - set(settings.LOCAL_ONLY_VARIABLES)
    assert always - RUNTIME_SETTINGS == expected
    assert always & RUNTIME_SETTINGS == RUNTIME_SETTINGS
    assert without_acr == REGISTRY_SETTINGS


def test_readme_shows_the_default_of_each_setting() -> None:
    """Defaults are written once, as the Settings fields; the README's table repeats each one."""
    rows = re.findall(r"^\| `([A-Z_]+)` \| ([^|]+) \|", (REPO / "README.md").read_text(), flags=re.MULTILINE)
    for name, cell in rows:
        shown = cell.strip()
        if re.fullmatch(r"`[^`{]+`", shown):
            assert shown.strip("`") == settings.default_text(name), name
        else:  # "(empty)", "(unset)", or how it is derived from other settings
            assert settings.default_text(name) == "", name


# Set from the deployment's resources, not from a parameter with a default of its own.
FROM_RESOURCES = {
    "AZURE_SUBSCRIPTION_ID",
    *(
        settings.PREFIX + name
        for name in (
            "RESOURCE_GROUP",
            "STORAGE_ACCOUNT",
            "STORAGE_ACCOUNT_ID",
            "BLOB_ENDPOINT",
            "ARM_ENDPOINT",
        )
    ),
}


def test_bicep_parameter_defaults_are_the_settings_defaults() -> None:
    main = template("main.bicep")
    site = _body(main["resources"]["app"])["properties"]["siteConfig"]
    checked = set()
    for entry in site["appSettings"]["function"]["parameters"]["arg_2"]:
        value = entry["value"]
        if isinstance(value, dict) and value.get("function", {}).get("type") == "string":
            value = value["function"]["parameters"]["value_to_convert"]  # string(param)
        parameter = main["parameters"].get(value) if isinstance(value, str) else None
        if parameter is None or not isinstance(parameter.get("default"), (str, int, bool)):
            continue
        default = parameter["default"]
        text = str(default).lower() if isinstance(default, bool) else str(default)
        assert text == settings.default_text(entry["name"]), entry["name"]
        checked.add(entry["name"])
    expected = set(settings.ENVIRONMENT_VARIABLES) - set(settings.LOCAL_ONLY_VARIABLES) - FROM_RESOURCES
    assert checked == expected


def test_host_storage_is_reached_with_the_identity_and_no_key_is_read() -> None:
    always, _ = app_settings()
    assert "AzureWebJobsStorage" not in always
    for path in INFRA.glob("*.bicep"):
        assert "listKeys(" not in path.read_text(), path.name
    site = _body(template("main.bicep")["resources"]["app"])
    assert site["identity"] == {"type": "SystemAssigned"}
    assert site["properties"]["siteConfig"]["acrUseManagedIdentityCreds"] == "useAcr"


@pytest.mark.parametrize("name", ["main.bicep", "events.bicep"])
def test_the_images_account_is_referenced_never_declared(name: str) -> None:
    resources = template(name)["resources"]
    accounts = {
        key: r for key, r in resources.items() if r["type"].startswith("Microsoft.Storage/storageAccounts")
    }
    assert accounts["images"]["existing"] is True
    assert accounts["images"]["config"]["name"] == "storageAccountName"
    declared = {key for key, r in accounts.items() if not r["existing"]}
    # Besides the host storage, only a container of the app's own (the private stash of signed source
    # URLs) may be declared in the images account: it sets nothing of the account or its containers.
    assert declared <= {"hostStorage", "jobSources"}, "only the app's own storage is declared"
    if "jobSources" in declared:
        assert accounts["jobSources"]["config"]["properties"]["publicAccess"] == "None"


def test_roles_are_the_least_privilege_of_the_readme() -> None:
    rows = re.findall(
        r"^\| ([^|]+) \| `([0-9a-f-]{36})` \| ([^|]+) \|", readme_section("Deploying to Azure"), re.M
    )
    documented = {(scope.strip(), role) for _, role, scope in rows}
    in_templates = {(README_SCOPES[scope], role) for scope, role in role_assignments()}
    assert in_templates == documented
    assert all(CONTRIBUTOR not in path.read_text() for path in INFRA.glob("*.bicep"))


def test_gallery_roles_go_to_both_galleries_of_the_settings() -> None:
    module = template("main.bicep")["modules"]["galleryRole"]
    assert module["detail"]["path"] == "gallery-role.bicep"
    assert module["config"]["params"]["galleryNames"] == ["ciGallery", "publicGallery"]
    galleries = template("gallery-role.bicep")["resources"]["galleries"]
    assert galleries["existing"] is True and galleries["type"] == "Microsoft.Compute/galleries"


def test_the_acr_pull_role_exists_only_with_an_acr() -> None:
    pull = template("main.bicep")["resources"]["registryPull"]
    assert pull["config"]["condition"] == "useAcr"
    registry = template("main.bicep")["resources"]["registry"]
    assert registry["existing"] is True and registry["config"]["condition"] == "useAcr"


def test_event_grid_is_a_second_step_with_the_readme_filters() -> None:
    main_types = {r["type"] for r in template("main.bicep")["resources"].values()}
    assert not any(kind.startswith("Microsoft.EventGrid/") for kind in main_types)
    events = template("events.bicep")
    topic = _body(events["resources"]["topic"])
    assert topic["name"] == "systemTopicName" and "systemTopicName" in events["parameters"]
    assert _accessor(topic["properties"]["source"]) == ("images", "id")
    subscription = _body(events["resources"]["vhdLanded"])["properties"]
    assert subscription["destination"]["endpointType"] == "AzureFunction"
    function = subscription["destination"]["properties"]["resourceId"].rsplit("/functions/", 1)[1]
    triggers = {
        f.get_function_name(): f.get_trigger().type for f in function_app.create_app().get_functions()
    }
    assert triggers[function] == "eventGridTrigger"
    containers = events["variables"]["vhdContainers"]["value"]
    assert set(containers) == {family.container for family in FAMILIES}
    (prefix,) = subscription["filter"]["advancedFilters"]
    assert (prefix["operatorType"], prefix["key"]) == ("StringBeginsWith", "subject")
    assert prefix["values"]["loop_type"]["detail"]["array_name"] == "vhdContainers"
    assert prefix["values"]["config"] == "/blobServices/default/containers/${name}/"
    # What the README promises
    deploy = readme_section("Deploying to Azure")
    assert f"`{subscription['filter']['includedEventTypes'][0]}`" in deploy
    assert subscription["filter"]["includedEventTypes"] == ["Microsoft.Storage.BlobCreated"]
    assert f"subject ends with `{subscription['filter']['subjectEndsWith']}`" in deploy
    assert "begins with `/blobServices/default/containers/CONTAINER/`" in deploy
    listed = re.search(r"for the\s+containers (.*?)\.\n", deploy, re.S)
    assert listed is not None and re.findall(r"`([^`]+)`", listed.group(1)) == containers


@pytest.mark.parametrize("name", ["main.bicep", "events.bicep"])
def test_the_readme_commands_deploy_each_template_with_its_parameters(name: str) -> None:
    (command,) = [
        line.strip().strip("`")
        for line in readme_section("Deploying to Azure").splitlines()
        if f"-f infra/{name}" in line
    ]
    words = shlex.split(command.replace("…", "x"))
    given = {word.split("=", 1)[0] for word in words[words.index("-p") + 1 :]}
    parameters = template(name)["parameters"]
    assert given <= set(parameters)
    required = {key for key, p in parameters.items() if p.get("default") is None}
    assert required <= given


def test_the_container_runs_a_supported_debian_and_python_the_lint_checks() -> None:
    base = re.search(
        r"^FROM mcr\.microsoft\.com/azure-functions/python:4-python(3\.\d+)$",
        (REPO / "Dockerfile").read_text(),
        re.M,
    )
    assert base is not None
    assert base.group(1) == "3.12", "4-python3.12 is bookworm; 4-python3.11 is bullseye (LTS ended)"
    assert f"--python-version {base.group(1)}" in (REPO / "Makefile").read_text()
    assert f"Python {base.group(1)}" in readme_section("Deploying to Azure")
