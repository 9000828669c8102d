"""The command line: `gallery-publisher COMMAND …`, and the old script's flags for those who know them.

Every command runs the same core as the Function App, so each capability can be tried by hand.
Exit statuses (exit_codes.py): 0 done; 1 failed (a service, or the job `submit` followed); 2 refused,
with one line on stderr naming the problem and nothing on stdout. command_errors.py picks them.

The Azure SDKs are imported only by the commands that use them: the release workflow installs just
`requests` and this package, and runs `submit`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence

from gallery_publisher.cli import exit_codes
from gallery_publisher.cli import staging as staging_commands
from gallery_publisher.cli import submit as submit_command
from gallery_publisher.cli import versions as versions_command
from gallery_publisher.cli.command_errors import report_error, reports_errors
from gallery_publisher.errors import PublishError
from gallery_publisher.log_policy import keep_secrets_out_of_logs
from gallery_publisher.planning.image_names import ImageType, SourceKind, parse_image_name
from gallery_publisher.planning.plan import ExistingState, PublishRequest, make_plan
from gallery_publisher.planning.settings import Settings, load_settings

Command = Callable[[argparse.Namespace], int]


def _settings(overrides: dict[str, str] | None = None) -> Settings:
    return load_settings({**os.environ, **(overrides or {})})


def _existing_state(request: PublishRequest, settings: Settings, offline: bool) -> ExistingState:
    """What is already in storage and the gallery (after checking the target definitions exist)."""
    if offline:
        return ExistingState()
    # Imported here: the Azure SDKs cost seconds of start-up that `stage` and `plan --offline` need not pay.
    from gallery_publisher import publishing
    from gallery_publisher.gallery.arm_client import compute_client
    from gallery_publisher.gallery.client import GalleryClient
    from gallery_publisher.staging.storage import blob_service_client

    services = publishing.Services(
        settings,
        blob_service_client(settings),
        GalleryClient(compute_client(settings), settings.resource_group),
    )
    return publishing.prepare_job(request, services).existing


@reports_errors("error")
def run_plan(args: argparse.Namespace) -> int:
    settings = _settings(getattr(args, "setting_overrides", None))
    request = PublishRequest(
        image_url=args.image, url_type=args.url_type, dry_run=True, public_gallery=args.public_gallery
    )
    plan = make_plan(request, settings, _existing_state(request, settings, args.offline))
    print(json.dumps(plan.to_json(), indent=None if args.json else 2) if args.json else plan.render_text())
    return exit_codes.OK


def add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", help="image file name, local path, or URL (RAW on S3 or VHD blob)")
    parser.add_argument("--public-gallery", action="store_true", help="publish to the public gallery")
    parser.add_argument("--offline", action="store_true", help="no network: assume no earlier uploads")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--url-type", type=SourceKind, choices=list(SourceKind), help="raw or vhd (default: from the name)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gallery-publisher",
        description="Publish AlmaLinux OS images to Azure Compute Galleries. "
        "Old-style flags (-d -t -i -u -f -g -r -s -v) are accepted too: see `gallery-publisher -h legacy`.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug output on stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    plan = commands.add_parser("plan", help="show what would be published where (a dry run)")
    add_plan_arguments(plan)
    plan.set_defaults(run=run_plan)
    stage = commands.add_parser("stage", help="stream a RAW image into a fixed-VHD page blob")
    staging_commands.add_stage_arguments(stage)
    stage.set_defaults(run=staging_commands.run_stage)
    validate = commands.add_parser("validate-vhd", help="check a VHD blob as Azure will")
    staging_commands.add_validate_vhd_arguments(validate)
    validate.set_defaults(run=staging_commands.run_validate_vhd)
    versions = commands.add_parser("versions", help="list an image definition's versions with their state")
    versions_command.add_versions_arguments(versions)
    versions.set_defaults(run=versions_command.run_versions)
    submit = commands.add_parser(
        "submit", help="submit a job to the Function App and follow it (release workflow)"
    )
    submit_command.add_submit_arguments(submit)
    submit.set_defaults(run=submit_command.run_submit)
    return parser


# The old azure_uploader.sh flags, mapped onto the same plan and publish path.
LEGACY_FLAGS = frozenset({"-d", "-t", "-i", "-u", "-f", "-g", "-r", "-s"})


def build_legacy_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gallery-publisher",
        description="The flags of the old azure_uploader.sh. Dry run unless -f.",
    )
    parser.add_argument(
        "-d", dest="release", required=True, help='distribution version ("9.6", "10.0", "10" for Kitten)'
    )
    parser.add_argument("-t", dest="image_type", required=True, type=ImageType, choices=list(ImageType))
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("-i", dest="image", help="RAW image path or URL to upload")
    source.add_argument("-u", dest="blob_uri", help="VHD blob URI, when already uploaded")
    parser.add_argument(
        "-f", dest="force", action="store_true", help="perform the operations (default: dry run)"
    )
    parser.add_argument("-g", dest="gallery", help="gallery name (the public gallery name means public)")
    parser.add_argument("-r", dest="resource_group", help="resource group name")
    parser.add_argument("-s", dest="storage_account", help="storage account name")
    parser.add_argument("-v", dest="verbose", action="store_true", help="debug output on stderr")
    return parser


def legacy_to_args(legacy: argparse.Namespace) -> argparse.Namespace:
    """Check the old flags against the image name and translate them into a `plan` call."""
    image = legacy.image or legacy.blob_uri
    parsed = parse_image_name(image)
    release = "10" if parsed.kitten else parsed.release
    if legacy.release != release:
        raise PublishError(f"-d {legacy.release} does not match the image name, which is release {release}")
    if legacy.image_type != parsed.image_type:
        raise PublishError(
            f"-t {legacy.image_type} does not match the image name, which is {parsed.image_type}"
        )
    overrides: dict[str, str] = {}
    if legacy.resource_group:
        overrides["GALLERY_PUBLISHER_RESOURCE_GROUP"] = legacy.resource_group
    if legacy.storage_account:
        overrides["GALLERY_PUBLISHER_STORAGE_ACCOUNT"] = legacy.storage_account
    settings = _settings(overrides)
    public = legacy.gallery == settings.public_gallery
    if legacy.gallery and not public and legacy.gallery != settings.ci_gallery:
        overrides["GALLERY_PUBLISHER_CI_GALLERY"] = legacy.gallery
    if legacy.force:
        raise PublishError(
            "-f (publish from the terminal) is not supported: publishing runs in the Function App, which "
            "follows Azure's replication for hours; use `gallery-publisher submit IMAGE_URL --no-dry-run "
            "--function-url URL`, or drop -f for a dry run"
        )
    return argparse.Namespace(
        run=run_plan,
        image=image,
        url_type=SourceKind.VHD if legacy.blob_uri else SourceKind.RAW,
        public_gallery=public,
        offline=True,
        json=False,
        verbose=legacy.verbose,
        setting_overrides=overrides,
    )


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    if argv and argv[0] in LEGACY_FLAGS:
        return legacy_to_args(build_legacy_parser().parse_args(argv))
    if list(argv[:2]) == ["-h", "legacy"]:
        build_legacy_parser().print_help()
        raise SystemExit(0)
    return build_parser().parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except PublishError as error:  # the old flags contradict the image name, or -f
        return report_error("error", error)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr)
    keep_secrets_out_of_logs()
    run: Command = args.run  # each run reports its own errors (command_errors.reports_errors)
    return run(args)
