"""Waiting for a condition in a test: poll it, fail with a sentence at the deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def wait_until(
    predicate: Callable[[], bool | Awaitable[bool]], timeout_s: float, what: str, step_s: float = 0.05
) -> float:
    """Poll until the predicate (plain or async) holds; the seconds it took. Fails at the deadline."""
    started = time.monotonic()
    while True:
        value = predicate()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(step_s)


async def wait_for(
    check: Callable[[], Awaitable[T | None]],
    timeout: float = 10.0,
    what: str = "condition",
    *,
    interval_s: float | None = None,
) -> T:
    """Poll `check` until it returns something truthy and return that, or fail after `timeout` s.
    Every `interval_s` seconds, or (None) soon at first and then every 0.2 s: a quick condition is
    seen quickly without a slow one being asked too often."""
    deadline = time.monotonic() + timeout
    delay = 0.02 if interval_s is None else interval_s
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {value!r})")
        await asyncio.sleep(delay)
        if interval_s is None:
            delay = min(delay * 1.5, 0.2)
