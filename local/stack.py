"""The embedded local stack: Azurite, the gallery emulator, a RAW source server, and the app itself
run by the in-process durable runner behind its HTTP routes, all on loopback.

The app is pointed at the stack through its ordinary settings (environment variables), exactly as
it would be pointed at Azure: nothing in the app knows it runs locally but `LOCAL_MODE`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azure.functions import FunctionRegister
from azure.storage.blob import BlobServiceClient

from activities import services
from gallery_publisher.planning.families import FAMILIES
from local.azurite import ACCOUNT_NAME, Azurite, run_azurite
from local.blob_watcher import BlobWatcher
from local.durable_runner import DurableRunner, ScaledClock, VirtualClock
from local.flaky_proxy import FlakyProxy
from local.gallery_emulator.config import EmulatorConfig
from local.gallery_emulator.server import Emulator, running_emulator
from local.source_server import SourceServer

SOURCE_BUCKET = "almalinux-images"
LOCAL_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
HOST_JSON = Path(__file__).resolve().parent.parent / "host.json"  # the app's: hub name, activity limit
# Azurite's account as ARM would name it: the app sends it as storageAccountId, the emulator checks it.
LOCAL_STORAGE_ACCOUNT_ID = (
    f"/subscriptions/{LOCAL_SUBSCRIPTION}/resourceGroups/rg-alma-images/providers/Microsoft.Storage"
    f"/storageAccounts/{ACCOUNT_NAME}"
)


@dataclass(frozen=True)
class StackOptions:
    workdir: Path
    # One orchestration second lasts `time_scale` real seconds; the emulator runs at the same scale.
    time_scale: float = 0.01
    region_seconds: float = 600.0  # the emulator's replication time per region (realistic by default)
    validation_seconds: float = 120.0
    virtual_clock: bool = False  # tests of pure flow; real I/O wants the scaled clock
    port: int = 0  # the app's HTTP routes (7071 is what Core Tools uses)
    seed: int = 0  # the runner's completion order
    settings: dict[str, str] = field(default_factory=dict)  # extra app settings
    watch_blobs: bool = False  # announce new blobs in the VHD containers, as Event Grid does in Azure
    flaky_storage: bool = False  # the app reaches Azurite through a proxy that can fail Put Page
    redeliver_activities: tuple[str, ...] = ()  # run each of these twice, as after a host recycle
    function_key: str | None = None  # default: GALLERY_PUBLISHER_FUNCTION_KEY, else random (host_keys.py)


@dataclass
class LocalStack:
    azurite: Azurite
    emulator: Emulator
    source: SourceServer
    runner: DurableRunner
    images_dir: Path
    storage_proxy: FlakyProxy | None = None

    @property
    def blobs(self) -> BlobServiceClient:
        return BlobServiceClient.from_connection_string(self.azurite.connection_string)

    def raw_url(self, file_name: str) -> str:
        return self.source.url_for(f"{SOURCE_BUCKET}/{file_name}")

    def raw_path(self, file_name: str) -> Path:
        return self.images_dir / SOURCE_BUCKET / file_name


def app_environment(connection_string: str, emulator: Emulator, extra: dict[str, str]) -> dict[str, str]:
    return {
        "AZURE_SUBSCRIPTION_ID": LOCAL_SUBSCRIPTION,
        "AZURE_STORAGE_CONNECTION_STRING": connection_string,
        "GALLERY_PUBLISHER_STORAGE_ACCOUNT": ACCOUNT_NAME,
        "GALLERY_PUBLISHER_STORAGE_ACCOUNT_ID": LOCAL_STORAGE_ACCOUNT_ID,
        "GALLERY_PUBLISHER_LOCAL_MODE": "true",
        "GALLERY_PUBLISHER_ARM_ENDPOINT": emulator.base_url,
        **extra,
    }


@contextmanager
def _app_environment(values: dict[str, str]) -> Iterator[None]:
    """Set the app's settings for the stack's life, then put the environment back as it was."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    services.reset()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        services.reset()


def deliver_event(runner: DurableRunner, function_name: str, event: dict[str, Any]) -> None:
    """Post one event to the host's Event Grid webhook, as the subscription does; raise unless accepted."""
    reply = runner.deliver_event_grid(function_name, [event])
    if reply.status >= 300:
        raise RuntimeError(f"Event Grid delivery to {function_name} was answered {reply.status}")


@contextmanager
def local_stack(options: StackOptions, app: FunctionRegister | None = None) -> Iterator[LocalStack]:
    """Start everything; stop everything (processes included) when the block ends. `app` defaults to
    the Function App itself (a benchmark may pass one with extra functions registered)."""
    from function_app import create_app  # the app reads its settings at first use, after we set them

    images_dir = options.workdir / "images"
    (images_dir / SOURCE_BUCKET).mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        azurite = stack.enter_context(run_azurite(options.workdir / "azurite"))
        blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
        for container in sorted({family.container for family in FAMILIES}):
            blobs.create_container(container)
        proxy = None
        connection_string = azurite.connection_string
        if options.flaky_storage:
            proxy = stack.enter_context(FlakyProxy(f"http://127.0.0.1:{azurite.port}"))
            connection_string = connection_string.replace(f"http://127.0.0.1:{azurite.port}", proxy.url)
        config = EmulatorConfig(
            time_scale=options.time_scale,
            region_seconds=options.region_seconds,
            validation_seconds=options.validation_seconds,
            storage_connection_string=connection_string,
            storage_account_id=LOCAL_STORAGE_ACCOUNT_ID,
        )
        emulator = stack.enter_context(running_emulator(config))
        source = stack.enter_context(SourceServer(images_dir))
        stack.enter_context(_app_environment(app_environment(connection_string, emulator, options.settings)))
        clock = VirtualClock() if options.virtual_clock else ScaledClock(scale=options.time_scale)
        runner = stack.enter_context(
            DurableRunner(
                app or create_app(),
                clock=clock,
                seed=options.seed,
                port=options.port,
                host_json=HOST_JSON,
                redeliver_activities=options.redeliver_activities,
                function_key=options.function_key,
            )
        )
        if options.watch_blobs:
            containers = {family.container for family in FAMILIES}
            announce = functools.partial(deliver_event, runner, "start_from_blob")
            stack.enter_context(BlobWatcher(blobs, containers, announce))
        yield LocalStack(azurite, emulator, source, runner, images_dir, proxy)
