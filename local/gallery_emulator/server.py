"""Run the emulator: a threaded HTTP server on loopback, in a thread (tests) or in the foreground."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

import requests

from local.gallery_emulator.config import EmulatorConfig
from local.gallery_emulator.faults import FaultSwitch
from local.gallery_emulator.http_handler import EmulatorContext, EmulatorHandler
from local.gallery_emulator.seed import apply_seed, default_seed
from local.gallery_emulator.source_check import SourceChecker
from local.gallery_emulator.store import Store


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


@dataclass
class Emulator:
    """A running emulator: its base URL, its state, and a way to change its faults."""

    base_url: str
    context: EmulatorContext

    @property
    def store(self) -> Store:
        return self.context.store

    def set_faults(self, **update: Any) -> dict[str, Any]:
        """Change faults through the admin endpoint, as a test of a separate process would."""
        response = requests.post(f"{self.base_url}/_emulator/faults", json=update, timeout=10)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


def build_server(
    config: EmulatorConfig, port: int = 0, seed: dict[str, Any] | None = None, *, log_requests: bool = False
) -> tuple[_Server, Emulator]:
    store = Store(config)
    if config.storage_connection_string:
        store.source_checker = SourceChecker(config.storage_connection_string)
    apply_seed(store, seed if seed is not None else default_seed())
    context = EmulatorContext(store, FaultSwitch(), "", log_requests)

    class BoundHandler(EmulatorHandler):
        pass

    BoundHandler.context = context
    server = _Server(("127.0.0.1", port), BoundHandler)
    context.base_url = base_url = f"http://127.0.0.1:{server.server_address[1]}"
    return server, Emulator(base_url, context)


@contextmanager
def running_emulator(
    config: EmulatorConfig | None = None, seed: dict[str, Any] | None = None, port: int = 0
) -> Iterator[Emulator]:
    """An emulator serving from a background thread until the block ends."""
    server, emulator = build_server(config or EmulatorConfig(), port, seed)
    # A short poll interval lets shutdown() return quickly between tests.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="gallery-emulator", daemon=True
    )
    thread.start()
    try:
        yield emulator
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
