"""What the app's functions share, built once per process from the environment.

This is the edge of the app: settings are read and SDK clients created here, then passed into
the core. Tests that change the environment call `services.cache_clear()`.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from gallery_publisher.settings import Settings, load_settings


@dataclass(frozen=True)
class Services:
    settings: Settings


@functools.cache
def services() -> Services:
    return Services(settings=load_settings(os.environ))
