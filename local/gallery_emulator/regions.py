"""Azure region names: requests may use either form, responses use the display name as Azure does.

Every physical region of Azure's public cloud, as `az account list-locations` names them (`name`,
`displayName`) and Microsoft's "Azure regions list" (reliability/regions-list) gives their
programmatic names, including the access-restricted ones (Australia Central 2, Germany North, …),
which a subscription may be allowed into. Sovereign clouds (China, US Gov), logical regions
("global", "europe") and canary or stage regions are not public regions and are refused.
"""

from __future__ import annotations

DISPLAY_NAMES: dict[str, str] = {
    # Americas
    "eastus": "East US",
    "eastus2": "East US 2",
    "centralus": "Central US",
    "northcentralus": "North Central US",
    "southcentralus": "South Central US",
    "westcentralus": "West Central US",
    "westus": "West US",
    "westus2": "West US 2",
    "westus3": "West US 3",
    "canadacentral": "Canada Central",
    "canadaeast": "Canada East",
    "brazilsouth": "Brazil South",
    "brazilsoutheast": "Brazil Southeast",
    "mexicocentral": "Mexico Central",
    "chilecentral": "Chile Central",
    # Europe
    "northeurope": "North Europe",
    "westeurope": "West Europe",
    "uksouth": "UK South",
    "ukwest": "UK West",
    "francecentral": "France Central",
    "francesouth": "France South",
    "germanywestcentral": "Germany West Central",
    "germanynorth": "Germany North",
    "switzerlandnorth": "Switzerland North",
    "switzerlandwest": "Switzerland West",
    "norwayeast": "Norway East",
    "norwaywest": "Norway West",
    "swedencentral": "Sweden Central",
    "swedensouth": "Sweden South",
    "polandcentral": "Poland Central",
    "italynorth": "Italy North",
    "spaincentral": "Spain Central",
    "austriaeast": "Austria East",
    "belgiumcentral": "Belgium Central",
    "denmarkeast": "Denmark East",
    # Asia Pacific
    "eastasia": "East Asia",
    "southeastasia": "Southeast Asia",
    "japaneast": "Japan East",
    "japanwest": "Japan West",
    "koreacentral": "Korea Central",
    "koreasouth": "Korea South",
    "centralindia": "Central India",
    "southindia": "South India",
    "westindia": "West India",
    "jioindiacentral": "Jio India Central",
    "jioindiawest": "Jio India West",
    "australiaeast": "Australia East",
    "australiasoutheast": "Australia Southeast",
    "australiacentral": "Australia Central",
    "australiacentral2": "Australia Central 2",
    "newzealandnorth": "New Zealand North",
    "indonesiacentral": "Indonesia Central",
    "malaysiawest": "Malaysia West",
    "taiwannorth": "Taiwan North",
    "taiwannorthwest": "Taiwan Northwest",
    # Middle East and Africa
    "uaenorth": "UAE North",
    "uaecentral": "UAE Central",
    "qatarcentral": "Qatar Central",
    "israelcentral": "Israel Central",
    "southafricanorth": "South Africa North",
    "southafricawest": "South Africa West",
}


def normalize(region: str) -> str:
    """The short name ("westus2") of a region given in either form ("West US 2" or "westus2")."""
    return region.replace(" ", "").lower()


def is_known(region: str) -> bool:
    return normalize(region) in DISPLAY_NAMES


def display_name(region: str) -> str:
    return DISPLAY_NAMES[normalize(region)]
