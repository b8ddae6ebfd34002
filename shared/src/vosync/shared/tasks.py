"""Stopping background tasks without trusting that a cancel always lands.

On Python 3.11, `asyncio.wait_for` (also inside nats-py) can swallow a cancellation that arrives as
the awaited call completes; a `while True` loop then runs on, and awaiting it after `cancel()` hangs.
Loops here therefore also check a closing flag, and stopping waits a bounded time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], timeout_s: float = 2.0) -> None:
    """Cancel the tasks and wait until they end, at most `timeout_s` (cancelling again meanwhile)."""
    pending = {t for t in tasks if not t.done()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while pending and loop.time() < deadline:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(0.1, max(0.0, deadline - loop.time())))
    if pending:
        log.warning("tasks did not stop in time", extra={"tasks": sorted(t.get_name() for t in pending)})
