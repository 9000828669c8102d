"""A disk image source (an http(s) URL or a local file) read once, front to back, with a known length.

What staging reads is the RAW disk: a RAW file as it is, a compressed one decompressed in the same
pass (its RAW size is known only at the end), anything else converted by qemu-img first.

An HTTP source survives a dropped or stalled connection: it reopens with a Range request at the
exact offset it had reached, so the caller's running MD5 stays valid and nothing is read twice.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, ClassVar, Protocol
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from gallery_publisher.errors import PublishError
from gallery_publisher.http_retry import is_retryable_status
from gallery_publisher.source import conversion, disk_formats
from gallery_publisher.source.disk_formats import PROBE_SIZE, DiskFormat
from gallery_publisher.source.pinned_http import GuardedClient
from gallery_publisher.source.policy import SourceGuard, SourceNotAllowedError
from gallery_publisher.urls import redact_text, redact_url


class SourceError(PublishError):
    """The source cannot be read as a disk image; the message names the problem and the fix."""

    code: ClassVar[str] = "Source"


class RawSource(Protocol):
    """What staging needs from a source: its identity as fetched, and its RAW disk bytes in order."""

    @property
    def url(self) -> str: ...  # query-free, safe to log and store

    @property
    def size(self) -> int: ...  # of the file as fetched

    @property
    def etag(self) -> str | None: ...

    @property
    def raw_size(self) -> int | None: ...  # None until the end of a stream being decompressed

    @property
    def position(self) -> int: ...  # bytes fetched so far, for progress

    def read(self, amount: int) -> bytes:
        """Up to `amount` RAW bytes; fewer only at the end of the disk."""
        ...

    def fetched_sha256(self) -> str:
        """Hex SHA-256 of the file as fetched (what a published .sha256sum describes), once read whole."""
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


_COPY_CHUNK = 4 * 1024 * 1024


class _FetchedFile:
    """What either transport knows of the file it fetches: where from (query-free), its size, its ETag."""

    _url: str
    _size: int
    _etag: str | None

    @property
    def url(self) -> str:
        return self._url

    @property
    def size(self) -> int:
        return self._size

    @property
    def etag(self) -> str | None:
        return self._etag


class FileSource(_FetchedFile):
    def __init__(self, path: Path, identity: tuple[str, str | None] | None = None) -> None:
        self.path = path
        self._file: BinaryIO = path.open("rb")
        stat = os.fstat(self._file.fileno())
        self._size = stat.st_size
        # Files have no ETag; modification time and size play its part, as web servers do. A local
        # copy of a blob goes by the blob's URL and ETag instead (`identity`).
        self._url, self._etag = identity or (
            path.resolve().as_uri(),
            f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"',
        )

    def read(self, amount: int) -> bytes:
        return self._file.read(amount)

    def close(self) -> None:
        self._file.close()


_TRANSIENT = (requests.RequestException, urllib3.exceptions.HTTPError, OSError)


class _Retryable(Exception):
    """A failure worth another attempt: a dropped connection, a stall or a retryable status (http_retry)."""


class HttpSource(_FetchedFile):
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
                # A connection that broke after bytes came is reopened at once (the server was
                # answering a moment ago); only failures in a row wait, ever longer.
                if failures > 1:
                    self._sleep(self._policy.backoff(failures - 1))
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
        if is_retryable_status(response.status_code):
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


class _Fetched:
    """The bytes of a source as fetched (the probed head first), hashed on the way."""

    def __init__(self, source: FileSource | HttpSource, head: bytes) -> None:
        self._source = source
        self._head = head
        self._digest = hashlib.sha256(head)
        self.count = 0

    def read(self, amount: int) -> bytes:
        if self._head:
            data, self._head = self._head[:amount], self._head[amount:]
            if len(data) < amount:
                data += self._read_source(amount - len(data))
        else:
            data = self._read_source(amount)
        self.count += len(data)
        return data

    def _read_source(self, amount: int) -> bytes:
        data = self._source.read(amount)
        self._digest.update(data)
        return data

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


class OpenedSource:
    """A source ready for staging: the fetched file's identity and digest, and its RAW disk bytes."""

    def __init__(
        self,
        source: FileSource | HttpSource,
        fetched: _Fetched,
        read_raw: Callable[[int], bytes],
        raw_size: int | None,
        cleanup: Callable[[], None] = lambda: None,
    ) -> None:
        self._source = source
        self._fetched = fetched
        self._read_raw = read_raw
        self._raw_size = raw_size
        self._cleanup = cleanup

    @property
    def url(self) -> str:
        return self._source.url

    @property
    def size(self) -> int:
        return self._source.size

    @property
    def etag(self) -> str | None:
        return self._source.etag

    @property
    def raw_size(self) -> int | None:
        return self._raw_size

    @property
    def position(self) -> int:
        return self._fetched.count

    def read(self, amount: int) -> bytes:
        return self._read_raw(amount)

    def fetched_sha256(self) -> str:
        return self._fetched.hexdigest()

    def close(self) -> None:
        try:
            self._cleanup()
        finally:
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
    converter: str = "native",
    identity: tuple[str, str | None] | None = None,
) -> OpenedSource:
    """Open a disk image source: RAW is streamed, a compressed RAW decompressed on the way, other
    formats (and RAW too with `converter="qemu-img"`) converted by qemu-img on local disk first.

    With a guard (every job's download) only an http(s) URL the guard allows is read, each redirect
    is checked again and connections go to checked addresses only; without one (an operator's own
    command line) local files are read too. `identity` (URL, ETag) names a local copy of a blob."""
    scheme = urlsplit(location).scheme
    if guard is not None and scheme not in ("http", "https"):
        raise SourceNotAllowedError(f"cannot read {redact_url(location)}: a job reads http(s) URLs only")
    source: FileSource | HttpSource
    if scheme in ("http", "https"):
        source = HttpSource(location, GuardedClient(guard), policy or RetryPolicy(), sleep)
    elif scheme in ("", "file"):
        path = Path(urlsplit(location).path if scheme == "file" else location)
        if not path.is_file():
            raise SourceError(f"{path} is not a file; give the path or http(s) URL of a disk image")
        source = FileSource(path, identity)
        if source.size == 0:
            source.close()
            raise SourceError(f"{path} is empty; a RAW disk image has a length")
    else:
        raise SourceError(f"cannot read {redact_url(location)}: give an http(s) URL or a local file path")
    try:
        head = source.read(PROBE_SIZE)
        try:
            kind = disk_formats.detect(head)
        except disk_formats.FormatError as error:
            raise SourceError(f"{redact_url(location)} {error}") from None
        if kind is not DiskFormat.VHD and source.url.endswith(".vhd"):
            raise SourceError(
                f"{source.url} is not a dynamic VHD, so there is nothing to convert; a fixed VHD is "
                "published as it is: give it with url_type vhd"
            )
        fetched = _Fetched(source, head)
        if kind is DiskFormat.RAW and converter == "native":
            return OpenedSource(source, fetched, fetched.read, source.size)
        if kind in disk_formats.COMPRESSED:
            read = _explained(disk_formats.decompressing_reader(kind, fetched), location)
            return OpenedSource(source, fetched, read, None)
        return _converted(source, fetched, kind)
    except BaseException:
        source.close()
        raise


def _explained(read: Callable[[int], bytes], location: str) -> Callable[[int], bytes]:
    def read_explained(amount: int) -> bytes:
        try:
            return read(amount)
        except disk_formats.FormatError as error:
            raise SourceError(
                f"{redact_url(location)} {error}; check the file, or publish it uncompressed"
            ) from None

    return read_explained


def _converted(source: FileSource | HttpSource, fetched: _Fetched, kind: DiskFormat) -> OpenedSource:
    """qemu-img converts the image to a RAW file on local disk, which is then read as a RAW source.

    A download goes to local disk first (qemu-img reads only the checked bytes, never the URL).
    Every temporary file is deleted on every path: the download once converted, the RAW as soon as
    it is open (the open file keeps its blocks until it is closed), the directory on any failure."""
    work = Path(tempfile.mkdtemp(prefix="gallery-publisher-"))
    try:
        if isinstance(source, FileSource):
            image = source.path
            _drain(fetched, None)  # the published checksum describes the file: hash it all
        else:
            conversion.check_free_disk(work, source.size, f"downloading {source.url} for qemu-img")
            image = work / f"source.{kind}"
            with image.open("wb") as copy:
                _drain(fetched, copy)
        raw_path = work / "disk.raw"
        conversion.convert_to_raw(image, str(kind), raw_path)
        raw = FileSource(raw_path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return OpenedSource(source, fetched, raw.read, raw.size, raw.close)


def _drain(fetched: _Fetched, copy: BinaryIO | None) -> None:
    while data := fetched.read(_COPY_CHUNK):
        if copy is not None:
            copy.write(data)
