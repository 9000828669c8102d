"""`gallery-publisher versions DEFINITION [--gallery G]`: list a definition's versions with their state.

Works against Azure or, with GALLERY_PUBLISHER_LOCAL_MODE=true and GALLERY_PUBLISHER_ARM_ENDPOINT set
to its URL, against the local gallery emulator.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping

from gallery_publisher.cli import exit_codes
from gallery_publisher.cli.command_errors import reports_errors
from gallery_publisher.planning.settings import load_settings


def add_versions_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("definition", help="image definition, such as almalinux-9-gen2")
    parser.add_argument("--gallery", help="gallery name (default: the CI gallery of the settings)")


@reports_errors("gallery-publisher versions")
def run_versions(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> int:
    # Imported here: the Azure SDKs cost seconds of start-up that the other commands need not pay.
    from gallery_publisher.gallery.arm_client import compute_client
    from gallery_publisher.gallery.client import GalleryClient

    settings = load_settings(os.environ if env is None else env)
    gallery_name = args.gallery or settings.ci_gallery
    gallery = GalleryClient(compute_client(settings), settings.resource_group)
    versions = gallery.list_versions(gallery_name, args.definition)
    if not versions:
        print(f"{gallery_name}/{args.definition} has no versions")
        return exit_codes.OK
    width = max(len(v.name) for v in versions)
    for version in sorted(versions, key=lambda v: tuple(int(p) for p in v.name.split("."))):
        print(f"{version.name:<{width}}  {version.provisioning_state or 'Unknown'}")
    return exit_codes.OK
