"""The resources an emulator starts with: by default every image definition of the family table
in both galleries of the default resource group, or what a JSON seed file lists.

Seed file format:
    {"resourceGroups": [{"name": "rg-alma-images", "galleries": [{"name": "almalinux_ci",
      "location": "eastus", "images": [{"name": "almalinux-9-gen2", "hyperVGeneration": "V2",
      "architecture": "x64", "osType": "Linux", "osState": "Generalized"}]}]}]}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gallery_publisher.planning.families import all_definitions
from gallery_publisher.planning.settings import Settings
from local.gallery_emulator.regions import is_known
from local.gallery_emulator.store import Store

DEFAULT_LOCATION = "eastus"


def default_seed(settings: Settings | None = None) -> dict[str, Any]:
    settings = settings or Settings()
    images = [
        {
            "name": definition.name,
            "hyperVGeneration": definition.hyper_v_generation,
            "architecture": definition.architecture,
            "osType": "Linux",
            "osState": "Generalized",
        }
        for definition in all_definitions()
    ]
    galleries = [
        {"name": name, "location": DEFAULT_LOCATION, "images": images}
        for name in (settings.ci_gallery, settings.public_gallery)
    ]
    return {"resourceGroups": [{"name": settings.resource_group, "galleries": galleries}]}


def load_seed(path: Path) -> dict[str, Any]:
    try:
        seed = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read the seed file {path}: {error}") from None
    if not isinstance(seed, dict) or not isinstance(seed.get("resourceGroups"), list):
        raise ValueError(
            f"the seed file {path} needs a top-level 'resourceGroups' list (see local/gallery_emulator/seed.py)"
        )
    return seed


def apply_seed(store: Store, seed: dict[str, Any]) -> None:
    """Create the seeded resources as already provisioned (Succeeded, no operations)."""
    for group in seed["resourceGroups"]:
        store.resource_groups.add(str(group["name"]).lower())
        for gallery_seed in group.get("galleries", []):
            location = gallery_seed.get("location", DEFAULT_LOCATION)
            if not is_known(location):
                raise ValueError(f"seed: gallery {gallery_seed['name']} has an unknown location {location!r}")
            gallery = store.add_gallery(group["name"], gallery_seed["name"], location)
            for image in gallery_seed.get("images", []):
                name = image["name"]
                properties = {
                    "osType": image.get("osType", "Linux"),
                    "osState": image.get("osState", "Generalized"),
                    "hyperVGeneration": image.get("hyperVGeneration", "V2"),
                    "architecture": image.get("architecture", "x64"),
                    "identifier": image.get(
                        "identifier", {"publisher": "AlmaLinux", "offer": gallery.name, "sku": name}
                    ),
                }
                store.add_image(gallery, name, properties)
