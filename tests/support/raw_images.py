"""Sparse RAW disk images for staging tests: zeros everywhere except chosen regions of random data."""

from __future__ import annotations

import random
import uuid
from pathlib import Path
from typing import Any

from azure.core.exceptions import ServiceResponseError
from azure.core.pipeline.transport import HttpRequest, HttpResponse, RequestsTransport
from azure.storage.blob import BlobServiceClient, ContainerClient

from gallery_publisher.units import MIB as MIB  # the tests import it from here


def write_sparse_raw(path: Path, size: int, regions: list[tuple[int, int]], seed: int = 1) -> bytes:
    """Write a sparse file of `size` bytes with random data at each (offset, length); return its bytes."""
    rng = random.Random(seed)
    image = bytearray(size)
    with path.open("wb") as out:
        out.truncate(size)
        for offset, length in regions:
            data = rng.randbytes(length)
            image[offset : offset + length] = data
            out.seek(offset)
            out.write(data)
    return bytes(image)


class RecordingTransport(RequestsTransport):  # type: ignore[misc]
    """The SDK's own HTTP transport, recording every request it sends (method, URL, headers, body
    size); the first `fail_put_pages` Put Page requests break as on a flaky network instead."""

    def __init__(self, fail_put_pages: int = 0) -> None:
        super().__init__()
        self.requests: list[tuple[str, str, dict[str, str], int]] = []
        self.fail_put_pages = fail_put_pages

    def send(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        body = request.body if isinstance(request.body, bytes | bytearray) else b""
        self.requests.append((request.method, request.url, dict(request.headers), len(body)))
        if "comp=page" in request.url and self.fail_put_pages > 0:
            self.fail_put_pages -= 1
            raise ServiceResponseError("connection reset by peer (injected)")
        response: HttpResponse = super().send(request, **kwargs)
        return response

    def put_pages(self) -> list[tuple[int, int]]:
        """The (start, end) of every Put Page sent, in the order sent."""
        pages = []
        for method, url, headers, _ in self.requests:
            if method == "PUT" and "comp=page" in url:
                start, end = headers["x-ms-range"].removeprefix("bytes=").split("-")
                pages.append((int(start), int(end)))
        return pages


def new_container(service: BlobServiceClient) -> ContainerClient:
    return service.create_container(f"t{uuid.uuid4().hex[:16]}")


def merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Inclusive ranges with adjacent and overlapping ones merged (Azurite does not merge them)."""
    result: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if result and start <= result[-1][1] + 1:
            result[-1] = (result[-1][0], max(end, result[-1][1]))
        else:
            result.append((start, end))
    return result
