"""The SHA-256 the AlmaLinux build publishes next to each RAW, as `<image>.sha256sum`.

The file is looked up at the image URL's path plus `.sha256sum`, with the image URL's query string.
A presigned S3 URL signs one object only, so with such a URL the lookup is usually refused (403) and
the source is staged unverified; with an unsigned (public) URL it is found. Both line styles of the
usual tools are read: GNU `HEX  NAME` (or `HEX *NAME`) and BSD `SHA256 (NAME) = HEX`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3.exceptions

from gallery_publisher.errors import PublishError
from gallery_publisher.http_retry import is_retryable_status
from gallery_publisher.planning.image_names import file_name_of
from gallery_publisher.source.pinned_http import GuardedClient
from gallery_publisher.source.reader import RetryPolicy
from gallery_publisher.urls import redact_url

SUFFIX = ".sha256sum"
MAX_CHECKSUM_FILE = 64 * 1024
_GNU = re.compile(r"([0-9a-fA-F]{64}) [ *](.+)")
_BSD = re.compile(r"SHA256 ?\((.+)\) ?= ?([0-9a-fA-F]{64})")
# Answers that mean "there is no checksum for you here": S3 says 403 for a missing key when the
# reader may not list the bucket, and for a sibling of a presigned URL.
_ABSENT = {401: "not readable", 403: "not readable", 404: "not found", 410: "gone"}


class ChecksumError(PublishError):
    """A published checksum that cannot be read or used; the message says what to fix."""

    code: ClassVar[str] = "Checksum"


@dataclass(frozen=True)
class PublishedChecksum:
    sha256: str | None  # lower-case hex; None when no checksum could be had
    note: str  # where it came from, or why there is none (safe to show: no query string)


def checksum_url(image_url: str) -> str:
    parts = urlsplit(image_url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path + SUFFIX, parts.query, ""))


def parse_sha256sum(text: str, file_name: str) -> str:
    """The digest listed for `file_name`; a file listing one digest under another name counts too
    (the build may name its output differently from the object's key)."""
    entries: list[tuple[str, str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if gnu := _GNU.fullmatch(line):
            entries.append((gnu[2], gnu[1]))
        elif bsd := _BSD.fullmatch(line):
            entries.append((bsd[1], bsd[2]))
        else:
            raise ChecksumError(
                f"the {SUFFIX} file has a line that is neither `HEX  NAME` nor `SHA256 (NAME) = HEX`: "
                f"{line[:80]!r}; publish the output of `sha256sum {file_name}`"
            )
    named = [digest for name, digest in entries if PurePosixPath(name.strip()).name == file_name]
    digests = named or ([entries[0][1]] if len(entries) == 1 else [])
    if len(set(digests)) != 1:
        raise ChecksumError(
            f"the {SUFFIX} file lists {len(entries)} digest(s), none unambiguously for {file_name}; "
            f"publish the output of `sha256sum {file_name}`"
        )
    return digests[0].lower()


def fetch_published_sha256(
    image_url: str,
    client: GuardedClient,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> PublishedChecksum:
    """Look for the image's `.sha256sum`; absent means unverified, a broken one is refused."""
    policy = policy or RetryPolicy()
    location = checksum_url(image_url)
    shown = redact_url(location)
    file_name = file_name_of(image_url)
    for attempt in range(1, policy.attempts + 1):
        try:
            response = client.get(
                location,
                headers={"Accept-Encoding": "identity"},
                stream=True,
                timeout=(policy.connect_timeout, policy.stall_timeout),
            )
            with response:
                if response.status_code == 200:
                    body = response.raw.read(MAX_CHECKSUM_FILE + 1)
                    break
                if response.status_code in _ABSENT:
                    signed = " with the image URL's signature" if urlsplit(image_url).query else ""
                    why = (
                        "no .sha256sum published"
                        if response.status_code == 404
                        else f"{SUFFIX} {_ABSENT[response.status_code]}{signed}"
                    )
                    return PublishedChecksum(None, f"{why} (HTTP {response.status_code} for {shown})")
                if not is_retryable_status(response.status_code):
                    raise ChecksumError(
                        f"{shown} answered HTTP {response.status_code} {response.reason}; "
                        "fix the checksum file's location or remove it"
                    )
                error = f"HTTP {response.status_code}"
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as failure:
            error = type(failure).__name__
        if attempt == policy.attempts:
            raise ChecksumError(
                f"reading {shown} failed {attempt} times ({error}); check the source is reachable and retry"
            )
        sleep(policy.backoff(attempt))
    if len(body) > MAX_CHECKSUM_FILE:
        raise ChecksumError(f"{shown} is over {MAX_CHECKSUM_FILE} bytes: it is not a {SUFFIX} file")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ChecksumError(f"{shown} is not UTF-8 text: publish the output of `sha256sum`") from None
    return PublishedChecksum(parse_sha256sum(text, file_name), f"SHA-256 published at {shown}")
