"""What the app's functions share, built once per process from the environment.

This is the edge of the app: settings are read and SDK clients created here, then passed into
the core. Code that changes the environment after a first call (the local stack does) calls
`reset()`, which forgets what was built.
"""

from __future__ import annotations

import functools
import os

import requests

from gallery_publisher.gallery.arm_client import compute_client
from gallery_publisher.gallery.client import GalleryClient
from gallery_publisher.planning.settings import Settings, load_settings
from gallery_publisher.publishing import Services
from gallery_publisher.staging.storage import blob_service_client


@functools.cache
def app_settings() -> Settings:
    return load_settings(os.environ)


@functools.cache
def app_services() -> Services:
    settings = app_settings()
    return Services(
        settings=settings,
        blobs=blob_service_client(settings),
        gallery=GalleryClient(compute_client(settings), settings.resource_group),
    )


@functools.cache
def http_session() -> requests.Session:
    return requests.Session()


def reset() -> None:
    """Forget what was built, so the next call reads the environment again (tests, local stack)."""
    app_settings.cache_clear()
    app_services.cache_clear()
    http_session.cache_clear()
