"""Each setting's default is written once, as its Settings field, and load_settings reads it there."""

from __future__ import annotations

from dataclasses import fields

import pytest

from gallery_publisher.planning.settings import (
    ENVIRONMENT_VARIABLES,
    PREFIX,
    Settings,
    default_text,
    load_settings,
)

# Derived at load from other settings (the account, the connection string) when not set.
DERIVED = {"storage_account_id", "blob_endpoint"}


def test_an_empty_environment_loads_the_settings_field_defaults() -> None:
    loaded, defaults = load_settings({}), Settings()
    different = {f.name for f in fields(Settings) if getattr(loaded, f.name) != getattr(defaults, f.name)}
    assert different == DERIVED


@pytest.mark.parametrize(
    ("variable", "text"),
    [
        (
            PREFIX + "TARGET_REGIONS",
            "eastus=1,germanywestcentral=1,westus2=1,southeastasia=1,southcentralus=1",
        ),
        (PREFIX + "NEVER_PUBLIC", "kitten-*,10-*,9-arm64-64k"),
        (PREFIX + "BLOB_TRIGGER_DRY_RUN", "true"),
        (PREFIX + "POLL_SECONDS", "60"),
        (PREFIX + "ALLOWED_SOURCE_PORTS", "443"),
        (PREFIX + "END_OF_LIFE_DATE", ""),
        ("AZURE_STORAGE_CONNECTION_STRING", ""),
    ],
)
def test_a_default_is_shown_as_the_environment_would_write_it(variable: str, text: str) -> None:
    assert default_text(variable) == text


@pytest.mark.parametrize("variable", [v for v in ENVIRONMENT_VARIABLES if default_text(v)])
def test_a_default_written_back_into_the_environment_loads_the_same_setting(variable: str) -> None:
    """default_text is what the README and the Bicep show: set as the value, it changes nothing."""
    assert load_settings({variable: default_text(variable)}) == load_settings({})
