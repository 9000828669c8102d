"""A RAW disk source (an http(s) URL or a local file) read once, front to back, with a known length.

An HTTP source survives a dropped or stalled connection: it reopens with a Range request at the
exact offset it had reached, so the caller's running MD5 stays valid and nothing is read twice.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Protocol
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from gallery_publisher.errors import PublishError
from gallery_publisher.pinned_http import GuardedClient
from gallery_publisher.source_policy import SourceGuard, SourceNotAllowedError
from gallery_publisher.urls import redact_text, redact_url

# Magic numbers at offset 0 of formats people mistake for a RAW disk, with the fix for each.
_NOT_RAW: tuple[tuple[bytes, str, str], ...] = (
    (b"QFI\xfb", "a qcow2 image", "convert it with `qemu-img convert -f qcow2 -O raw`"),
    (b"conectix", "a VHD image", "give its blob URL as a VHD input instead of staging it"),
    (b"\xfd7zXZ\x00", "xz-compressed", "decompress it first (`xz -d`)"),
    (b"\x1f\x8b", "gzip-compressed", "decompress it first (`gunzip`)"),
)
MAGIC_PROBE = max(len(magic) for magic, _, _ in _NOT_RAW)


class SourceError(PublishError):
    """The source cannot be read as a RAW disk; the message names the problem and the fix."""


def check_raw_magic(first_bytes: bytes, location: str) -> None:
    for magic, what, fix in _NOT_RAW:
        if first_bytes.startswith(magic):
            raise SourceError(f"{redact_url(location)} is {what}, not a RAW disk image: {fix}")


class RawSource(Protocol):
    """What staging needs from a source: its identity, its length and its bytes in order."""

    @property
    def url(self) -> str: ...  # query-free, safe to log and store

    @property
    def size(self) -> int: ...

    @property
    def etag(self) -> str | None: ...

    def read(self, amount: int) -> bytes:
        """Up to `amount` bytes; fewer only at the end of the source."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    """How an HTTP source rides out failures. `attempts` counts failures in a row without progress."""

    attempts: int = 8
    first_backoff: float = 0.5
    max_backoff: float = 30.0
    connect_timeout: float = 15.0
    stall_timeout: float = 60.0  # seconds without a single byte before the connection is dropped

    def backoff(self, failure: int) -> float:
        return float(min(self.first_backoff * 2 ** (failure - 1), self.max_backoff))


class FileSource:
    def __init__(self, path: Path) -> None:
        self._file: BinaryIO = path.open("rb")
        stat = os.fstat(self._file.fileno())
        self._url = path.resolve().as_uri()
        self._size = stat.st_size
        # Files have no ETag; modification time and size play its part, as web servers do.
        self._etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'

    @property
    def url(self) -> str:
        return self._url

    @property
    def size(self) -> int:
        return self._size

    @property
    def etag(self) -> str | None:
        return self._etag

    def read(self, amount: int) -> bytes:
        return self._file.read(amount)

    def close(self) -> None:
        self._file.close()


_TRANSIENT = (requests.RequestException, urllib3.exceptions.HTTPError, OSError)


class _Retryable(Exception):
    """A failure worth another attempt: a dropped connection, a stall, a 5xx or a 429."""


class HttpSource:
    def __init__(
        self,
        url: str,
        client: GuardedClient,
        policy: RetryPolicy,
        sleep: Callable[[float], None],
    ) -> None:
        self._location = url
        self._url = redact_url(url)
        self._client = client
        self._policy = policy
        self._sleep = sleep
        self._offset = 0
        self._response: requests.Response | None = None
        self._size = -1
        self._etag: str | None = None
        try:
            self._with_retries(self._open)
        except BaseException:
            self._client.close()
            raise

    @property
    def url(self) -> str:
        return self._url

    @property
    def size(self) -> int:
        return self._size

    @property
    def etag(self) -> str | None:
        return self._etag

    def read(self, amount: int) -> bytes:
        amount = min(amount, self._size - self._offset)
        parts: list[bytes] = []
        got = 0
        failures = 0
        while got < amount:
            try:
                if self._response is None:
                    self._open()
                assert self._response is not None
                data = self._response.raw.read(amount - got)
                if not data:
                    raise _Retryable(f"the connection closed at byte {self._offset} of {self._size}")
            except (_Retryable, *_TRANSIENT) as error:
                self._drop()
                failures += 1
                self._give_up_after(failures, error)
                self._sleep(self._policy.backoff(failures))
                continue
            failures = 0
            parts.append(data)
            got += len(data)
            self._offset += len(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def close(self) -> None:
        self._drop()
        self._client.close()

    def _with_retries(self, action: Callable[[], None]) -> None:
        failures = 0
        while True:
            try:
                action()
                return
            except (_Retryable, *_TRANSIENT) as error:
                self._drop()
                failures += 1
                self._give_up_after(failures, error)
                self._sleep(self._policy.backoff(failures))

    def _give_up_after(self, failures: int, error: BaseException) -> None:
        if failures >= self._policy.attempts:
            raise SourceError(
                f"reading {self._url} failed {failures} times in a row at byte {self._offset} "
                f"(last error: {_describe(error, self._location)}); check the source is reachable and retry"
            ) from None

    def _open(self) -> None:
        """Start a GET at the current offset and check it is the same object as before."""
        headers = {"Accept-Encoding": "identity"}
        if self._offset:
            headers["Range"] = f"bytes={self._offset}-"
        response = self._client.get(
            self._location,
            headers=headers,
            stream=True,
            timeout=(self._policy.connect_timeout, self._policy.stall_timeout),
        )
        if response.status_code >= 500 or response.status_code == 429:
            response.close()
            raise _Retryable(f"HTTP {response.status_code}")
        if response.status_code not in (200, 206):
            response.close()
            raise SourceError(
                f"{self._url} answered HTTP {response.status_code} {response.reason}; "
                "check the URL and that the object is public (or carries a valid signature)"
            )
        etag = response.headers.get("ETag")
        if self._offset == 0:
            self._size = _usable_length(response, self._url)
            self._etag = etag
        else:
            self._check_resumed(response, etag)
        self._response = response

    def _check_resumed(self, response: requests.Response, etag: str | None) -> None:
        expected = f"bytes {self._offset}-{self._size - 1}/{self._size}"
        content_range = response.headers.get("Content-Range", "")
        if response.status_code != 206 or content_range != expected:
            response.close()
            raise SourceError(
                f"{self._url} does not honour Range requests (asked for byte {self._offset} on, got "
                f"HTTP {response.status_code} {content_range!r}), so a broken download cannot resume; "
                "serve the image from a server with Range support"
            )
        if etag != self._etag:
            response.close()
            raise SourceError(
                f"{self._url} changed while it was read (ETag {self._etag} became {etag}); "
                "stage it again once the upload of the source is finished"
            )

    def _drop(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None


def _usable_length(response: requests.Response, url: str) -> int:
    length = response.headers.get("Content-Length")
    # ASCII digits, at most 19 (int() refuses over 4300, and no disk has 20 digits of bytes).
    if length is None or not re.fullmatch(r"[0-9]{1,19}", length) or int(length) == 0:
        response.close()
        shown = length if length is None or len(length) <= 40 else length[:40] + "…"
        raise SourceError(
            f"{url} gives no usable length (Content-Length: {shown!r}); a RAW disk must be served "
            "as a plain file with its size, not chunked or compressed on the fly"
        )
    return int(length)


def _describe(error: BaseException, location: str) -> str:
    # requests and urllib3 quote the URL, or just its path and query, in their messages.
    text = f"{type(error).__name__}: {error}"
    query = urlsplit(location).query
    return redact_text(text.replace(f"?{query}", "") if query else text)


class OpenedSource:
    """A source whose first bytes were already read for the magic check."""

    def __init__(self, source: FileSource | HttpSource, head: bytes) -> None:
        self._source = source
        self._head = head

    @property
    def url(self) -> str:
        return self._source.url

    @property
    def size(self) -> int:
        return self._source.size

    @property
    def etag(self) -> str | None:
        return self._source.etag

    def read(self, amount: int) -> bytes:
        if not self._head:
            return self._source.read(amount)
        head, self._head = self._head[:amount], self._head[amount:]
        if len(head) == amount:
            return head
        return head + self._source.read(amount - len(head))

    def close(self) -> None:
        self._source.close()

    def __enter__(self) -> OpenedSource:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_source(
    location: str,
    *,
    guard: SourceGuard | None = None,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> OpenedSource:
    """Open a RAW source, refusing one with no length or whose first bytes show another format.

    With a guard (every job's download) only an http(s) URL the guard allows is read, each redirect
    is checked again and connections go to checked addresses only; without one (an operator's own
    command line) local files are read too."""
    scheme = urlsplit(location).scheme
    if guard is not None and scheme not in ("http", "https"):
        raise SourceNotAllowedError(f"cannot read {redact_url(location)}: a job reads http(s) URLs only")
    source: FileSource | HttpSource
    if scheme in ("http", "https"):
        source = HttpSource(location, GuardedClient(guard), policy or RetryPolicy(), sleep)
    elif scheme in ("", "file"):
        path = Path(urlsplit(location).path if scheme == "file" else location)
        if not path.is_file():
            raise SourceError(f"{path} is not a file; give the path or http(s) URL of a RAW image")
        source = FileSource(path)
        if source.size == 0:
            source.close()
            raise SourceError(f"{path} is empty; a RAW disk image has a length")
    else:
        raise SourceError(f"cannot read {redact_url(location)}: give an http(s) URL or a local file path")
    try:
        head = source.read(MAGIC_PROBE)
        check_raw_magic(head, location)
    except BaseException:
        source.close()
        raise
    return OpenedSource(source, head)
