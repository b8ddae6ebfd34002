"""Singleflight: concurrent callers for one key share one run of the work.

The work runs in its own task and each caller awaits it through `asyncio.shield`, so one caller
giving up (a client that disconnects) never cancels the run the others are waiting for. With
`cancel_when_abandoned`, the run is cancelled once the last caller has given up (nobody wants it
any more); without it the run finishes anyway (its result may still be stored by someone else).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(slots=True)
class _Flight(Generic[V]):
    task: asyncio.Task[V]
    waiters: int = 0


class SingleFlight(Generic[K, V]):
    def __init__(self, *, cancel_when_abandoned: bool = False) -> None:
        self._flights: dict[K, _Flight[V]] = {}
        self._cancel_when_abandoned = cancel_when_abandoned

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
            flight.task.add_done_callback(functools.partial(self._finished, key, flight))
        flight.waiters += 1
        try:
            return await asyncio.shield(flight.task), joined
        finally:
            flight.waiters -= 1
            if self._cancel_when_abandoned and flight.waiters == 0 and not flight.task.done():
                flight.task.cancel()

    def _finished(self, key: K, flight: _Flight[V], task: asyncio.Task[V]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        if not task.cancelled():
            task.exception()  # retrieved, so a run nobody awaits any more logs no warning

    async def cancel_all(self, timeout_s: float = 1.0) -> None:
        tasks = [flight.task for flight in self._flights.values()]
        for task in tasks:
            task.cancel()
        if tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait(tasks, timeout=timeout_s)
