"""The host's keys, checked as the Functions host checks them.

Documented (Azure Functions "Work with access keys"): a function with `authLevel: function` needs a
function key or a host key, in the `x-functions-key` header or the `code` query parameter; `admin` needs
the master key; `anonymous` needs none; a missing or wrong key is 401. The master key is accepted
everywhere. Extension webhooks under `/runtime/webhooks/<extension>` need that extension's system key
(`durabletask_extension`, `eventgrid_extension`) or the master key, never a function key.

Our reading: the local host has one function key, valid for every function as a host key is. It is
`GALLERY_PUBLISHER_FUNCTION_KEY` when set (what `submit` sends), otherwise random for each host.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

FUNCTION_KEY_VARIABLE = "GALLERY_PUBLISHER_FUNCTION_KEY"
KEY_HEADER = "x-functions-key"
EVENT_GRID_WEBHOOK = "/runtime/webhooks/eventgrid"


def _new_key() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class HostKeys:
    function_key: str
    master: str
    durabletask: str
    eventgrid: str

    @classmethod
    def create(cls, function_key: str | None = None, durabletask_key: str | None = None) -> HostKeys:
        return cls(
            function_key=function_key or os.environ.get(FUNCTION_KEY_VARIABLE) or _new_key(),
            master=_new_key(),
            durabletask=durabletask_key or _new_key(),
            eventgrid=_new_key(),
        )

    def allows(self, auth_level: str | None, headers: dict[str, str], query: dict[str, str]) -> bool:
        """May a request call a function of this auth level? (None: not an HTTP function; no key needed.)"""
        if auth_level in (None, "anonymous"):
            return True
        accepted = [self.master] if auth_level == "admin" else [self.master, self.function_key]
        return _presented(headers, query, accepted)

    def allows_system(self, system_key: str, headers: dict[str, str], query: dict[str, str]) -> bool:
        return _presented(headers, query, [self.master, system_key])


def _presented(headers: dict[str, str], query: dict[str, str], accepted: list[str]) -> bool:
    header = next((value for name, value in headers.items() if name.lower() == KEY_HEADER), None)
    presented = header if header is not None else query.get("code", "")
    # Compare with every key in constant time, so timing says nothing about which one nearly matched.
    matches = [secrets.compare_digest(presented.encode(), key.encode()) for key in accepted]
    return any(matches)
