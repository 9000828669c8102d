"""ARM error responses: the status, code, message and target Azure answers with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_VERSION_PART = 2_147_483_647


@dataclass
class ArmError(Exception):
    status: int
    code: str
    message: str
    target: str | None = None
    details: list[dict[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target:
            error["target"] = self.target
        if self.details:
            error["details"] = self.details
        return {"error": error}


def check_version_name(name: str) -> None:
    parts = name.split(".")
    valid = len(parts) == 3 and all(p.isdigit() and p.isascii() for p in parts)
    if not valid or any(int(p) > MAX_VERSION_PART for p in parts):
        raise ArmError(
            400,
            "InvalidParameter",
            f"The gallery image version name '{name}' is not valid. A version name has the form "
            "Major(int).Minor(int).Patch(int), for example 1.0.0, and each part must be between 0 and "
            "2,147,483,647.",
            target="galleryImageVersionName",
        )


def parent_not_found(parent: str) -> ArmError:
    return ArmError(
        404,
        "ParentResourceNotFound",
        f"Can not perform requested operation on nested resource. Parent resource '{parent}' not found.",
    )


def resource_not_found(resource_type: str, name: str, resource_group: str) -> ArmError:
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource '{resource_type}/{name}' under resource group '{resource_group}' was not found.",
    )


def resource_group_not_found(resource_group: str) -> ArmError:
    return ArmError(404, "ResourceGroupNotFound", f"Resource group '{resource_group}' could not be found.")


def property_change_not_allowed(prop: str) -> ArmError:
    return ArmError(
        409,
        "PropertyChangeNotAllowed",
        f"Changing property '{prop}' is not allowed.",
        target=prop,
    )


def too_many_requests(retry_after: int) -> ArmError:
    return ArmError(
        429,
        "OperationNotAllowed",
        "The server rejected the request because too many requests have been received for this subscription.",
        details=[
            {
                "code": "TooManyRequests",
                "target": "Microsoft.Compute/galleries",
                "message": "Too many requests: retry after the time given in the Retry-After header.",
            }
        ],
        headers={"Retry-After": str(retry_after)},
    )


def invalid_body(message: str, target: str | None = None) -> ArmError:
    return ArmError(400, "InvalidParameter", message, target=target)
