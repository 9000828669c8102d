"""Azure region names: requests may use either form, responses use the display name as Azure does."""

from __future__ import annotations

DISPLAY_NAMES: dict[str, str] = {
    "eastus": "East US",
    "eastus2": "East US 2",
    "westus": "West US",
    "westus2": "West US 2",
    "westus3": "West US 3",
    "centralus": "Central US",
    "northcentralus": "North Central US",
    "southcentralus": "South Central US",
    "westcentralus": "West Central US",
    "canadacentral": "Canada Central",
    "brazilsouth": "Brazil South",
    "northeurope": "North Europe",
    "westeurope": "West Europe",
    "uksouth": "UK South",
    "francecentral": "France Central",
    "germanywestcentral": "Germany West Central",
    "swedencentral": "Sweden Central",
    "switzerlandnorth": "Switzerland North",
    "norwayeast": "Norway East",
    "southeastasia": "Southeast Asia",
    "eastasia": "East Asia",
    "japaneast": "Japan East",
    "koreacentral": "Korea Central",
    "centralindia": "Central India",
    "australiaeast": "Australia East",
    "southafricanorth": "South Africa North",
    "uaenorth": "UAE North",
}


def normalize(region: str) -> str:
    """The short name ("westus2") of a region given in either form ("West US 2" or "westus2")."""
    return region.replace(" ", "").lower()


def is_known(region: str) -> bool:
    return normalize(region) in DISPLAY_NAMES


def display_name(region: str) -> str:
    return DISPLAY_NAMES[normalize(region)]
