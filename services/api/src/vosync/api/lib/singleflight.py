"""Request coalescing: concurrent callers for one key share one in-flight call.

The call runs as its own task and callers await it through `asyncio.shield`, so a caller that
cancels (a client that disconnects) never cancels the call the others are waiting for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    def __init__(self, on_coalesced: Callable[[], None] | None = None) -> None:
        self._flights: dict[K, asyncio.Task[V]] = {}
        self._on_coalesced = on_coalesced

    def __len__(self) -> int:
        return len(self._flights)

    async def do(self, key: K, call: Callable[[], Awaitable[V]]) -> V:
        task = self._flights.get(key)
        if task is None:
            task = asyncio.ensure_future(call())
            self._flights[key] = task
            task.add_done_callback(lambda done, key=key: self._finished(key, done))  # type: ignore[misc]
        elif self._on_coalesced is not None:
            self._on_coalesced()
        return await asyncio.shield(task)

    def _finished(self, key: K, task: asyncio.Task[V]) -> None:
        if self._flights.get(key) is task:
            del self._flights[key]
        if not task.cancelled():
            task.exception()  # retrieved here so a flight nobody awaits any more logs no warning

    async def cancel_all(self) -> None:
        tasks = list(self._flights.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
