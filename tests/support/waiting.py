"""Polling for an eventually-true condition, with the last observation in the failure."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], T],
    done: Callable[[T], bool],
    *,
    timeout_s: float = 60.0,
    interval_s: float = 0.3,
) -> T:
    """Call ``probe`` until ``done(result)``; fail with the last result after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    result = probe()
    while not done(result):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met after {timeout_s:.0f} s; last: {result!r}")
        await asyncio.sleep(interval_s)
        result = probe()
    return result
