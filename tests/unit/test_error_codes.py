"""Error codes that reach clients (job reports, job status, the activities' answers): each exception
class that can reach one states its own code, no two share one, and Azure's own code wins."""

from __future__ import annotations

import importlib
import json
import pkgutil
from types import ModuleType

import pytest
from azure.core.exceptions import HttpResponseError, ODataV4Error

import activities
import function_app
import gallery_publisher
import orchestrators
from gallery_publisher.errors import UNEXPECTED_CODE, PublishError, error_code_of
from orchestrators.publish_image import JobFailedError

# Exceptions outside PublishError whose message reaches a client: the HTTP 500 of a start that
# failed, and the Failed status of a job.
OTHER_CLIENT_ERRORS: tuple[type[BaseException], ...] = (function_app.StartFailed, JobFailedError)

# The codes clients saw before the codes were written out (they were the class name without
# "Error", but for the three set by hand): a class renamed later must keep its code.
CODES_CLIENTS_KNOW = {
    "PublishError": "Publish", "ImageNameError": "ImageName", "SettingsError": "Settings",
    "IndexOverflowError": "IndexOverflow", "ConversionError": "Conversion", "UnsafeUrlPathError": "UnsafeUrlPath",
    "BlobBusyError": "BlobBusy", "SourceNotAllowedError": "SourceNotAllowed", "SourceError": "Source",
    "ChecksumError": "Checksum", "SubmitError": "Submit", "TransientError": "Transient", "GaveUp": "GaveUp",
    "GalleryError": "Gallery", "GalleryRetryableError": "GalleryRetryable", "InputRefusedError": "InputRefused",
    "RequestError": "Request", "StorageError": "Storage", "NotifyError": "Notify", "StagingError": "Staging",
    "BlobNameTakenError": "BlobNameTaken", "StagingDeadlineError": "StagingDeadlineExceeded",
    "VhdBlobError": "VhdBlob", "VhdBlobUnfinishedError": "VhdBlobUnfinished",
}  # fmt: skip


def _import_all(package: ModuleType) -> None:
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)


def _subclasses(base: type[BaseException]) -> list[type[BaseException]]:
    found = [base]
    for sub in base.__subclasses__():
        found += [cls for cls in _subclasses(sub) if cls not in found]
    return found


def client_facing_errors() -> list[type[BaseException]]:
    """Every PublishError subclass the app and the command line define (all their modules are
    imported first, so that none is missed), and the other exceptions that reach a client."""
    for package in (gallery_publisher, activities, orchestrators):
        _import_all(package)
    ours = [
        cls
        for cls in _subclasses(PublishError)
        if cls.__module__.split(".")[0] in {"gallery_publisher", "activities", "orchestrators"}
    ]
    return ours + list(OTHER_CLIENT_ERRORS)


def test_every_error_that_reaches_a_client_states_its_own_code_and_no_two_share_one() -> None:
    errors = client_facing_errors()
    assert len(errors) >= len(CODES_CLIENTS_KNOW)  # the walk found the classes, not just the base
    inherited = [cls.__qualname__ for cls in errors if not isinstance(vars(cls).get("code"), str)]
    assert not inherited, f"these classes state no code of their own: {inherited}"
    codes: dict[str, str] = {}
    for cls in errors:
        code = vars(cls)["code"]
        assert code and code.isascii() and code.isalnum(), (
            f"{cls.__qualname__}: code {code!r} is not a short word"
        )
        assert code not in codes, f"{cls.__qualname__} and {codes[code]} share the code {code!r}"
        codes[code] = cls.__qualname__


def test_the_codes_clients_know_are_unchanged() -> None:
    known = {
        cls.__name__: vars(cls)["code"]
        for cls in client_facing_errors()
        if cls.__name__ in CODES_CLIENTS_KNOW
    }
    assert known == CODES_CLIENTS_KNOW


def test_error_code_of_gives_the_class_code_not_the_class_name() -> None:
    class RenamedLaterError(PublishError):
        code = "Kept"

    class NoCodeError(Exception):
        pass

    for cls in client_facing_errors():
        assert error_code_of(cls.__new__(cls)) == vars(cls)["code"]
    assert error_code_of(RenamedLaterError("x")) == "Kept"
    assert error_code_of(NoCodeError("x")) == UNEXPECTED_CODE
    assert error_code_of(ValueError("x")) == UNEXPECTED_CODE


class _Response:
    """Just what HttpResponseError reads of a response: its status, reason and body."""

    def __init__(self, body: dict[str, object]) -> None:
        self.status_code = 409
        self.reason = "Conflict"
        self._body = json.dumps(body)

    def text(self) -> str:
        return self._body


@pytest.mark.parametrize("error_type", [HttpResponseError, ODataV4Error])
def test_azure_error_code_wins(error_type: type[HttpResponseError]) -> None:
    body = {"error": {"code": "OperationNotAllowed", "message": "the version is being deleted"}}
    error = error_type(response=_Response(body))  # type: ignore[arg-type]
    assert error_code_of(error) == "OperationNotAllowed"


def test_an_azure_error_without_a_code_is_unexpected() -> None:
    assert error_code_of(HttpResponseError("no body")) == UNEXPECTED_CODE
