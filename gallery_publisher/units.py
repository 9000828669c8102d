"""Binary size units, written once for the core, the local stack, the benchmarks and the tests."""

from __future__ import annotations

MIB = 1024 * 1024
GIB = 1024 * MIB
