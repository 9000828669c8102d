"""`gallery-publisher submit IMAGE_URL …`: what the release workflow runs.

POST the job to the Function App, follow its status with backoff, print progress, write the
summary to $GITHUB_STEP_SUMMARY when set; exit 0 only when the job succeeded (or dry-ran), 1 when
it failed or the app stayed unreachable, 2 when the app refused it (exit_codes.py).
When the app stays unreachable longer than --give-up-after, the summary still says what was known.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import requests

from gallery_publisher.cli import exit_codes
from gallery_publisher.cli.app_client import Backoff, GaveUp, JobStatus, Patience, PublisherClient, Waiting
from gallery_publisher.cli.command_errors import reports_errors

KEY_VARIABLE = "GALLERY_PUBLISHER_FUNCTION_KEY"


def add_submit_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image_url", help="RAW image URL (S3) or VHD blob URL")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument(
        "--raw", dest="url_type", action="store_const", const="raw", help="the URL is a RAW image"
    )
    kind.add_argument(
        "--vhd", dest="url_type", action="store_const", const="vhd", help="the URL is a VHD blob"
    )
    parser.add_argument("--no-dry-run", dest="dry_run", action="store_false", help="really publish")
    parser.add_argument("--public-gallery", action="store_true", help="publish to the public gallery")
    parser.add_argument("--notify", action="store_true", help="post the summary to Mattermost")
    parser.add_argument("--function-url", required=True, help="the Function App's base URL")
    parser.add_argument("--poll-interval", type=float, default=2.0, help="first wait between polls (s)")
    parser.add_argument(
        "--give-up-after",
        type=float,
        default=Patience().give_up_after,
        help="seconds of failed requests in a row (5xx, 429, dropped connection) before giving up",
    )


class _ProgressPrinter:
    """Prints each progress line once, when it first appears or changes."""

    def __init__(self) -> None:
        self._shown: list[str] = []

    def __call__(self, status: JobStatus) -> None:
        lines = [f"[{status.runtime_status}] {line}" for line in status.progress]
        for line in lines:
            if line not in self._shown:
                print(line, file=sys.stderr, flush=True)
        self._shown = lines


def _write_step_summary(summary: str) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path and summary:
        with open(path, "a", encoding="utf-8") as out:
            out.write(summary + "\n")


def _print_retry(reason: str, delay: float) -> None:
    print(f"{reason}; retrying in {delay:.0f} s", file=sys.stderr, flush=True)


def _lost_summary(instance_id: str | None, error: GaveUp) -> str:
    """What the step summary says when the job could not be submitted or followed to its end."""
    if not instance_id:
        return f"**The job could not be submitted**: {error}."
    lines = [
        f"**Lost track of the job**: {error}.",
        f"The job `{instance_id}` may still be running; its status: `GET /api/publish/{instance_id}`.",
    ]
    if error.last:
        lines.append(
            f"Last known status: **{error.last.runtime_status}**, step {error.last.step or 'unknown'}."
        )
        lines += [f"- {line}" for line in error.last.progress]
        if error.last.summary:
            lines += ["", error.last.summary]
    return "\n".join(lines)


@reports_errors("error")
def run_submit(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {
        "image_url": args.image_url,
        "dry_run": args.dry_run,
        "public_gallery": args.public_gallery,
        "notify": args.notify,
    }
    if args.url_type:
        body["url_type"] = args.url_type
    client = PublisherClient(
        requests.Session(),
        args.function_url,
        os.environ.get(KEY_VARIABLE),
        Backoff(first=args.poll_interval),
        Patience(give_up_after=args.give_up_after),
        Waiting(on_retry=_print_retry),
    )
    instance_id = None
    try:
        instance_id = client.submit(body)
        print(f"job {instance_id}", file=sys.stderr, flush=True)
        final = client.follow(instance_id, _ProgressPrinter())
    except GaveUp as error:
        # What was known goes to the summary; the error itself to the handler (exit 1).
        summary = _lost_summary(instance_id, error)
        print(summary)
        _write_step_summary(summary)
        raise
    print(final.summary)
    _write_step_summary(final.summary)
    if final.succeeded:
        return exit_codes.OK
    print(f"error: the job ended {final.runtime_status} ({final.outcome or 'no result'})", file=sys.stderr)
    return exit_codes.FAILED
