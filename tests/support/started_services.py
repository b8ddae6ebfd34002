"""Services a test started: for the length of a block (`running`), or in a factory fixture until
the test ends (`StartedServices`, stopped newest first)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Generic, TypeVar

from vosync.shared import lifecycle

S = TypeVar("S", bound=lifecycle.Service)


@contextlib.asynccontextmanager
async def running(service: S) -> AsyncIterator[S]:
    """`service` started for the length of the block, then stopped gracefully."""
    # lifecycle.running yields its Service protocol; this keeps the service's own type for the test.
    async with lifecycle.running(service):
        yield service


def _always(_: object) -> bool:
    return True


class StartedServices(Generic[S]):
    """`await started.start(service)` in the factory; `await started.stop_all()` after its yield.

    Only services whose start returned are stopped: one that failed to start never got that far.
    """

    def __init__(self, still_running: Callable[[S], bool] = _always) -> None:
        # A test may stop a service itself (a poller gone, say); stopping it twice is not harmless.
        self._still_running = still_running
        self._services: list[S] = []

    async def start(self, service: S) -> S:
        await service.start()
        self._services.append(service)
        return service

    async def stop_all(self) -> None:
        for service in reversed(self._services):
            if self._still_running(service):
                await service.stop()
