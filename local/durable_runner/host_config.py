"""The Durable Task settings of an app's host.json that change how the runner behaves.

- `extensions.durableTask.hubName`: the task hub, named in the client binding and status URLs.
  Documented (Durable Functions, "Task hubs"): letters and digits only, starting with a letter,
  3 to 45 characters; the extension refuses anything else when the host starts.
- `extensions.durableTask.maxConcurrentActivityFunctions`: how many activities one host runs at
  once; the rest wait in the work-item queue. A whole number of at least 1 (our reading: the
  extension's option validation refuses lower values).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HUB_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{2,44}")


class InvalidHostJson(ValueError):
    pass


@dataclass(frozen=True)
class DurableHostConfig:
    hub_name: str
    max_concurrent_activities: int


def read_host_config(path: Path, defaults: DurableHostConfig) -> DurableHostConfig:
    try:
        host: Any = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise InvalidHostJson(f"{path} could not be read as JSON: {error}") from None
    durable = (host.get("extensions") or {}).get("durableTask") or {} if isinstance(host, dict) else {}
    hub_name = durable.get("hubName", defaults.hub_name)
    if not isinstance(hub_name, str) or not HUB_NAME.fullmatch(hub_name):
        raise InvalidHostJson(
            f"{path}: extensions.durableTask.hubName {hub_name!r} is not a valid task hub name: "
            "use 3 to 45 letters and digits, starting with a letter"
        )
    workers = durable.get("maxConcurrentActivityFunctions", defaults.max_concurrent_activities)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidHostJson(
            f"{path}: extensions.durableTask.maxConcurrentActivityFunctions {workers!r} must be a whole "
            "number of at least 1"
        )
    return DurableHostConfig(hub_name=hub_name, max_concurrent_activities=workers)
