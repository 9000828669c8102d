"""The command line's one error handler: an error's family gives the exit status and the line on stderr.

| family                                              | exit        | the line on stderr                          |
|-----------------------------------------------------|-------------|---------------------------------------------|
| ServiceUnavailableError (unreachable, throttled, …) | 1 FAILED    | `LABEL: <message>`                          |
| any other PublishError (it names problem and fix)   | 2 REFUSED   | `LABEL: <message>`                          |
| an Azure SDK error nothing explained                | 1 FAILED    | `LABEL: Azure Storage failed: <first line>` |
| requests: a URL it cannot use (MissingSchema, …)    | 2 REFUSED   | `LABEL: the Function App could not be reached: <type>` |
| requests: any other failure                         | 1 FAILED    | the same                                    |

Anything else is a bug: it propagates with its traceback. LABEL is what each command has always
printed (`error`, `stage`, `validate-vhd`, `gallery-publisher versions`). Exit statuses: exit_codes.py.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec

import requests

from gallery_publisher.cli import exit_codes
from gallery_publisher.errors import PublishError, ServiceUnavailableError
from gallery_publisher.urls import redact_text

P = ParamSpec("P")


def _is_azure_error(error: BaseException) -> bool:
    # Checked without importing the SDK (the release workflow's `submit` runs without it): an
    # AzureError can only exist once its module has been imported.
    azure = sys.modules.get("azure.core.exceptions")
    return azure is not None and isinstance(error, azure.AzureError)


def exit_status_and_message(error: BaseException) -> tuple[int, str] | None:
    """The exit status and the message for `error`, or None for an error no family covers (a bug)."""
    if isinstance(error, ServiceUnavailableError):
        return exit_codes.FAILED, str(error)
    if isinstance(error, PublishError):
        return exit_codes.REFUSED, str(error)
    if _is_azure_error(error):
        # The gallery client explains its Azure errors (GalleryError); what arrives raw here comes
        # from the storage calls of `stage`, `validate-vhd` and `plan`. Its URLs may carry a SAS.
        first_line = (str(error).splitlines() or [type(error).__name__])[0]
        return exit_codes.FAILED, f"Azure Storage failed: {redact_text(first_line)}"
    if isinstance(error, requests.RequestException):
        # Only `submit` talks to the Function App with requests; the source reader wraps its own.
        # MissingSchema, InvalidURL and the like are ValueErrors: the --function-url is unusable.
        status = exit_codes.REFUSED if isinstance(error, ValueError) else exit_codes.FAILED
        return status, f"the Function App could not be reached: {type(error).__name__}"
    return None


def report_error(label: str, error: BaseException) -> int:
    """Print `LABEL: message` on stderr and give the exit status; re-raise an error of no family."""
    handled = exit_status_and_message(error)
    if handled is None:
        raise error
    status, message = handled
    print(f"{label}: {message}", file=sys.stderr)
    return status


def reports_errors(label: str) -> Callable[[Callable[P, int]], Callable[P, int]]:
    """Decorate a command's run: the errors of every family become `LABEL: message` and a status."""

    def decorate(run: Callable[P, int]) -> Callable[P, int]:
        @functools.wraps(run)
        def reporting(*args: P.args, **kwargs: P.kwargs) -> int:
            try:
                return run(*args, **kwargs)
            except Exception as error:  # sorted into its family there; a bug is raised again
                return report_error(label, error)

        return reporting

    return decorate
