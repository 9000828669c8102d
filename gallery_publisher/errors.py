"""Errors the publishing core raises: each names the problem and the fix.

Each class carries its own `code`, written out: the short word a job report, a job status and the
activities' answers show for it. Clients match on these words, so renaming a class never changes
one (tests/unit/test_error_codes.py checks every class has its own, and that no two share one).
"""

from typing import ClassVar

# The code of an exception with neither an explicit code nor an Azure error code: nothing the core
# explains (a bug, or a failure no rule was written for).
UNEXPECTED_CODE = "Unexpected"

# Codes the orchestrators act on or make themselves. They live here, at the bottom of the core, so that
# the exceptions (in staging) and the orchestrators' messages (in jobs) name the same word.
BLOB_NAME_TAKEN = "BlobNameTaken"  # staging found another source's VHD under the planned name: plan again
VHD_BLOB_UNFINISHED = "VhdBlobUnfinished"  # a VHD still being uploaded: a blob-started job waits for it
ACTIVITY_FAILED = "ActivityFailed"  # an activity raised what it could not explain, after its retries
DEADLINE_EXCEEDED = "DeadlineExceeded"  # a gallery version not done by the version deadline
DYNAMIC_VHD = "DynamicVhd"  # a whole dynamic VHD: a blob-started job stages a fixed copy once it settles
UPLOAD_NOT_SETTLED = "UploadNotSettled"  # a VHD upload that kept changing until the deadline


class PublishError(Exception):
    """Base of every refusal the tool explains to its user."""

    code: ClassVar[str] = "Publish"


class ServiceUnavailableError(PublishError):
    """A service could not be reached, throttled the call or kept failing (5xx) past the retries.

    The same call may succeed later, unchanged: the command line exits 1 for these (a failure),
    not 2 (a refusal). The classes that raise it say which service."""

    code: ClassVar[str] = "ServiceUnavailable"


class ImageNameError(PublishError):
    """A file name that matches none of the accepted patterns."""

    code: ClassVar[str] = "ImageName"


class SettingsError(PublishError):
    """A setting with a value that is not allowed."""

    code: ClassVar[str] = "Settings"


class IndexOverflowError(PublishError):
    """An upload index that no longer fits its family's digits or the version number limits."""

    code: ClassVar[str] = "IndexOverflow"


def _azure_code(error: BaseException) -> str | None:
    """The error code Azure answered with, when `error` carries one.

    Read by attribute, not by type, so that this module imports no Azure SDK: an ODataV4Error keeps
    Azure's code on the instance (`code`), an HttpResponseError in its parsed body (`error.code`)."""
    for code in (vars(error).get("code"), getattr(getattr(error, "error", None), "code", None)):
        if isinstance(code, str) and code:
            return code
    return None


def error_code_of(error: BaseException) -> str:
    """A short code for a report: Azure's own error code when the error carries one, else the
    explicit `code` of the error's class, else `UNEXPECTED_CODE`. Never derived from a class name."""
    azure_code = _azure_code(error)
    if azure_code:
        return azure_code
    explicit = getattr(type(error), "code", None)
    return explicit if isinstance(explicit, str) and explicit else UNEXPECTED_CODE
