"""A RAW image source over HTTP, as S3 serves one: HEAD, Range (206), ETag, Content-Length.

Files under a directory are served at their relative path (`DIR/bucket/key` at `/bucket/key`, S3's
path style); query strings are ignored, so signed-looking URLs work. Faults can be injected per
server (drop the connection once at an offset, stall once at an offset, answer 5xx K times) so
tests can prove that a download resumes where it broke.

    python -m local.source_server --dir D --port P    # prints its base URL when ready
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
_SEND_BLOCK = 8 * 1024 * 1024


@dataclass
class Faults:
    """Faults to inject, each used up once it has fired. Offsets are byte offsets into the file."""

    drop_at: int | None = None
    stall_at: int | None = None
    stall_seconds: float = 0.0
    server_errors: int = 0
    error_status: int = 503
    # Serve bodies without Content-Length (close-delimited), as a misconfigured proxy might.
    omit_length: bool = False
    # Answer Range requests with the whole file (200), as a server without Range support does.
    ignore_range: bool = False


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    range: str | None
    status: int


@dataclass
class _State:
    root: Path
    faults: Faults
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[RequestRecord] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass  # tests and the local stack read `requests` instead of a noisy stderr

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        state = self.server.state
        path = unquote(urlsplit(self.path).path)
        range_header = self.headers.get("Range")
        file = (state.root / path.lstrip("/")).resolve()
        if not file.is_file() or not file.is_relative_to(state.root):
            self._answer_empty(404, range_header)
            return
        with state.lock:
            faults = state.faults
            if faults.server_errors > 0:
                faults.server_errors -= 1
                status = faults.error_status
            else:
                status = 0
        if status:
            self._answer_empty(status, range_header)
            return
        stat = file.stat()
        size = stat.st_size
        start, end = 0, size - 1
        status = 200
        if range_header and not faults.ignore_range:
            parsed = _parse_range(range_header, size)
            if parsed is None:
                self._answer_empty(416, range_header, {"Content-Range": f"bytes */{size}"})
                return
            start, end = parsed
            status = 206
        self._record(status, range_header)
        self.send_response(status)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", f'"{stat.st_mtime_ns:x}-{size:x}"')
        self.send_header("Content-Type", "application/octet-stream")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        if faults.omit_length:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        if body:
            with file.open("rb") as source:
                self._send_body(source.fileno(), start, end + 1)

    def _send_body(self, fd: int, start: int, stop: int) -> None:
        faults = self.server.state.faults
        offset = start
        try:
            while offset < stop:
                limit = stop
                with self.server.state.lock:
                    drop, stall = _ahead(faults.drop_at, offset), _ahead(faults.stall_at, offset)
                for point in (drop, stall):
                    if point is not None and point < limit:
                        limit = point
                if offset == drop:
                    with self.server.state.lock:
                        faults.drop_at = None
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if offset == stall:
                    with self.server.state.lock:
                        faults.stall_at = None
                    time.sleep(faults.stall_seconds)
                    continue
                sent = os.sendfile(self.connection.fileno(), fd, offset, min(limit - offset, _SEND_BLOCK))
                if sent == 0:
                    break
                offset += sent
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _answer_empty(
        self, status: int, range_header: str | None, headers: dict[str, str] | None = None
    ) -> None:
        self._record(status, range_header)
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _record(self, status: int, range_header: str | None) -> None:
        with self.server.state.lock:
            self.server.state.requests.append(RequestRecord(self.command, self.path, range_header, status))


def _ahead(point: int | None, offset: int) -> int | None:
    return point if point is not None and point >= offset else None


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    match = _RANGE.match(header.strip())
    if not match or not (match[1] or match[2]):
        return None
    if not match[1]:  # suffix range: the last N bytes
        return max(size - int(match[2]), 0), size - 1
    start = int(match[1])
    end = min(int(match[2]), size - 1) if match[2] else size - 1
    return (start, end) if start <= end else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, state: _State) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.state = state


class SourceServer:
    """The server as a context manager: `with SourceServer(root) as server: server.url_for(...)`."""

    def __init__(self, root: Path, port: int = 0, faults: Faults | None = None) -> None:
        self._state = _State(root=root.resolve(), faults=faults or Faults())
        self._server = _Server(port, self._state)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def faults(self) -> Faults:
        return self._state.faults

    def set_faults(self, faults: Faults) -> None:
        with self._state.lock:
            self._state.faults = faults

    @property
    def requests(self) -> list[RequestRecord]:
        with self._state.lock:
            return list(self._state.requests)

    def url_for(self, relative_path: str) -> str:
        return f"{self.base_url}/{relative_path.lstrip('/')}"

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (the command-line use)."""
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def start(self) -> SourceServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> SourceServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True, help="directory whose files are served")
    parser.add_argument("--port", type=int, default=0, help="loopback port (default: a free one)")
    args = parser.parse_args()
    server = SourceServer(args.dir, args.port)
    signal.signal(signal.SIGTERM, _interrupt)  # so SIGTERM releases the port as Ctrl-C does
    print(server.base_url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
