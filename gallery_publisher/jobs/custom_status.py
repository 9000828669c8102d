"""Keep an orchestration's custom status within what the Durable runtime stores.

The runtime refuses a custom status over 16 KB, measured as UTF-16 JSON, and fails the orchestration
for it. A failed job's status carries its summary and the Azure errors of every version and region,
which Azure can make long; so long texts are cut here (saying how much was cut), and when that is not
enough the bulky parts give way to the headline. The full text stays in the orchestration's output
(a failed job's failure message carries the whole summary). Pure: no I/O.
"""

from __future__ import annotations

import json
from typing import Any

LIMIT_BYTES = 16 * 1024
# Room below the limit: what the status API adds (the runtime's own fields) is not ours to measure.
BUDGET_BYTES = 14 * 1024
SUMMARY_CHARS = 3500
TEXT_CHARS = 400
HEADLINE = ("outcome", "failed_step", "error_code", "error_message")
CUT_NOTE = " … [{count:,} more characters: the full text is in the job's output]"


def utf16_json_size(value: Any) -> int:
    """Bytes of `value` as the runtime stores it: compact JSON, non-ASCII kept, UTF-16."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-16-le"))


def shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + CUT_NOTE.format(count=len(text) - limit)


def _shorten_summary(summary: str) -> str:
    """Every line cut on its own first, so that the last lines (the failure) survive."""
    lines = "\n".join(shorten(line, TEXT_CHARS) for line in summary.split("\n"))
    return shorten(lines, SUMMARY_CHARS)


def _shorten_strings(value: Any) -> Any:
    if isinstance(value, str):
        return shorten(value, TEXT_CHARS)
    if isinstance(value, dict):
        return {key: _shorten_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shorten_strings(item) for item in value]
    return value


def bounded_status(status: dict[str, Any]) -> dict[str, Any]:
    """`status` if it fits the budget; else with long texts cut, then the result reduced to its
    headline, then only the step and image. Never over `BUDGET_BYTES`."""
    if utf16_json_size(status) <= BUDGET_BYTES:
        return status
    bounded = {
        key: _shorten_summary(value)
        if key == "summary" and isinstance(value, str)
        else _shorten_strings(value)
        for key, value in status.items()
    }
    if utf16_json_size(bounded) <= BUDGET_BYTES:
        return bounded
    result = bounded.get("result")
    if isinstance(result, dict):
        bounded["result"] = {key: result[key] for key in HEADLINE if key in result}
        if utf16_json_size(bounded) <= BUDGET_BYTES:
            return bounded
    return {
        **{key: _shorten_strings(status[key]) for key in ("step", "image") if key in status},
        "note": "the status was too large to keep; the job's output has all of it",
    }
