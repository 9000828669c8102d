"""Which HTTP answers are worth another attempt: one rule for every client we write (the source,
its checksum, Azure Storage, the gallery, the release workflow's client of our own API)."""

from __future__ import annotations

# 408: the server gave up waiting for our request; 429: throttled (a Retry-After says how long to
# wait). 5xx: the server or a gateway in front of it failed, which passes, except 501 (Not
# Implemented) and 505 (HTTP Version Not Supported): those answer the same every time. This is also
# the set the Azure SDK's own retry policy uses, so our retries and the SDK's agree.
_ALWAYS_THE_SAME = frozenset({501, 505})


def is_retryable_status(status: int) -> bool:
    """Whether an HTTP answer with this status may succeed when the same request is sent again."""
    return status in (408, 429) or (500 <= status <= 599 and status not in _ALWAYS_THE_SAME)
