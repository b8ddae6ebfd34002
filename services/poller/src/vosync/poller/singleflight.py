"""Singleflight: concurrent callers for one key share one run of the work.

The work runs in its own task; each caller awaits it shielded, so one caller giving up does not
cancel the others. When the last caller gives up, the work is cancelled (nobody wants it any more).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from vosync.poller.tasks import cancel_and_wait

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(slots=True)
class _Flight(Generic[V]):
    task: asyncio.Task[V]
    waiters: int = 0


class SingleFlight(Generic[K, V]):
    def __init__(self) -> None:
        self._flights: dict[K, _Flight[V]] = {}

    def in_flight(self, key: K) -> bool:
        return key in self._flights

    def __len__(self) -> int:
        return len(self._flights)

    async def do(self, key: K, work: Callable[[], Awaitable[V]]) -> tuple[V, bool]:
        """The work's result, and whether this caller joined a run another caller started."""
        flight = self._flights.get(key)
        joined = flight is not None
        if flight is None:
            flight = _Flight(asyncio.ensure_future(work()))
            self._flights[key] = flight
            flight.task.add_done_callback(functools.partial(self._forget, key, flight))
        flight.waiters += 1
        try:
            return await asyncio.shield(flight.task), joined
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.task.done():
                flight.task.cancel()

    def _forget(self, key: K, flight: _Flight[V], _task: object) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]

    async def cancel_all(self, timeout_s: float = 1.0) -> None:
        await cancel_and_wait([f.task for f in self._flights.values()], timeout_s)
