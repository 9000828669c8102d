"""Settings: their defaults (the galleries, group, account and regions the existing images use), and
the errors for bad values."""

from __future__ import annotations

from datetime import date

import pytest

from gallery_publisher.errors import SettingsError
from gallery_publisher.planning.settings import TargetRegion, load_settings


def test_defaults_are_the_existing_galleries_group_account_and_regions() -> None:
    s = load_settings({})
    assert (s.ci_gallery, s.public_gallery, s.resource_group, s.storage_account) == (
        "almalinux_ci",
        "almalinux",
        "rg-alma-images",
        "almalinux",
    )
    assert [(r.name, r.replicas) for r in s.target_regions] == [
        ("eastus", 1),
        ("germanywestcentral", 1),
        ("westus2", 1),
        ("southeastasia", 1),
        ("southcentralus", 1),
    ]
    assert s.storage_account_type == "Standard_LRS"
    assert s.replication_mode == "Full"
    assert s.exclude_from_latest is False
    assert s.end_of_life_date is None
    assert s.blob_endpoint == "https://almalinux.blob.core.windows.net"
    assert s.local_mode is False


def test_never_public_rule_defaults() -> None:
    s = load_settings({})
    never = [key for key in ("kitten-10-default", "10-arm64", "9-arm64-64k") if s.is_never_public(key)]
    allowed = [key for key in ("9-default", "9-arm64", "8-default", "8-arm64") if s.is_never_public(key)]
    assert never == ["kitten-10-default", "10-arm64", "9-arm64-64k"]
    assert allowed == []


def test_values_are_read_from_the_environment() -> None:
    s = load_settings(
        {
            "AZURE_SUBSCRIPTION_ID": "1234",
            "GALLERY_PUBLISHER_TARGET_REGIONS": "eastus=2, westeurope",
            "GALLERY_PUBLISHER_END_OF_LIFE_DATE": "2030-06-30",
            "GALLERY_PUBLISHER_EXCLUDE_FROM_LATEST": "yes",
            "GALLERY_PUBLISHER_REPLICATION_MODE": "Shallow",
            "GALLERY_PUBLISHER_NEVER_PUBLIC": "kitten-*",
        }
    )
    assert s.target_regions == (TargetRegion("eastus", 2), TargetRegion("westeurope", 1))
    assert s.end_of_life_date == date(2030, 6, 30)
    assert s.exclude_from_latest is True
    assert s.replication_mode == "Shallow"
    assert s.is_never_public("10-default") is False
    assert s.storage_account_id == (
        "/subscriptions/1234/resourceGroups/rg-alma-images/providers/Microsoft.Storage/storageAccounts/almalinux"
    )


def test_connection_string_sets_the_blob_endpoint_and_stays_out_of_repr() -> None:
    cs = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=c2VjcmV0;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
    s = load_settings({"AZURE_STORAGE_CONNECTION_STRING": cs})
    assert s.blob_endpoint == "http://127.0.0.1:10000/devstoreaccount1"
    assert "c2VjcmV0" not in repr(s)


def test_webhook_stays_out_of_repr() -> None:
    s = load_settings({"GALLERY_PUBLISHER_MATTERMOST_WEBHOOK_URL": "https://chat.example/hooks/SECRETHOOK"})
    assert s.mattermost_webhook_url == "https://chat.example/hooks/SECRETHOOK"
    assert "SECRETHOOK" not in repr(s)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GALLERY_PUBLISHER_TARGET_REGIONS", "eastus=0", "from 1 to 100"),
        ("GALLERY_PUBLISHER_TARGET_REGIONS", "eastus=1,eastus=2", "listed twice"),
        ("GALLERY_PUBLISHER_TARGET_REGIONS", "East US=1", "is not a region"),
        ("GALLERY_PUBLISHER_TARGET_REGIONS", "eastus=two", "whole number"),
        ("GALLERY_PUBLISHER_STORAGE_ACCOUNT_TYPE", "Premium_ZRS", "Standard_LRS, Standard_ZRS, Premium_LRS"),
        ("GALLERY_PUBLISHER_REPLICATION_MODE", "Partial", "Full, Shallow"),
        ("GALLERY_PUBLISHER_END_OF_LIFE_DATE", "30/06/2030", "2030-06-30"),
        ("GALLERY_PUBLISHER_EXCLUDE_FROM_LATEST", "maybe", "true or false"),
        ("GALLERY_PUBLISHER_STORAGE_ACCOUNT", "Alma_Linux", "lower-case letters and digits"),
        ("GALLERY_PUBLISHER_CI_GALLERY", "bad gallery!", "a gallery name"),
        ("GALLERY_PUBLISHER_MATTERMOST_WEBHOOK_URL", "http://chat.example/hooks/x", "https"),
        ("GALLERY_PUBLISHER_ALLOWED_SOURCE_HOSTS", "evil host", "wildcards"),
        ("GALLERY_PUBLISHER_STORAGE_ACCOUNT_ID", "almalinux", "resource id"),
        ("GALLERY_PUBLISHER_ARM_ENDPOINT", "management.azure.com", "scheme and host"),
        ("GALLERY_PUBLISHER_VERSION_DEADLINE_MINUTES", "0", "from 1 to 10080"),
        ("GALLERY_PUBLISHER_POLL_SECONDS", "soon", "from 1 to 3600"),
    ],
)
def test_bad_values_name_the_variable_and_what_is_allowed(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({name: value})
    assert name in str(refused.value)
    assert message in str(refused.value)
