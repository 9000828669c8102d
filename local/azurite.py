"""Azurite, the Azure Storage emulator from npm, as a context manager on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from local.processes import free_port, start_group, stop_group, wait_for_port

REPO = Path(__file__).resolve().parent.parent
AZURITE_BIN = REPO / "node_modules" / ".bin" / "azurite-blob"
# Azurite's documented, public development account; not a secret.
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="  # devstoreaccount1


@dataclass(frozen=True)
class Azurite:
    port: int
    location: Path
    pid: int  # the node process itself (the bin script execs node), for benchmarks' CPU accounting

    @property
    def blob_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT_NAME}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_endpoint};"
        )


@contextmanager
def run_azurite(location: Path, port: int | None = None, binary: Path = AZURITE_BIN) -> Iterator[Azurite]:
    """Run Azurite's blob service until the block ends; its data lives under `location`.
    `binary` is the stack's Azurite unless a benchmark names another release."""
    if not binary.exists():
        raise FileNotFoundError(
            f"{binary} is missing: run `make setup` (`make bench` for the benchmark's) first"
        )
    port = port or free_port()
    location.mkdir(parents=True, exist_ok=True)
    args = [
        str(binary),
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        str(port),
        "--location",
        str(location),
        "--skipApiVersionCheck",
        "--loose",
        "--silent",
    ]
    process = start_group(args, location / "azurite.log")
    try:
        wait_for_port(port, process)
        yield Azurite(port=port, location=location, pid=process.pid)
    finally:
        stop_group(process)
