"""Running a service: start, wait for SIGTERM/SIGINT, stop within a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from vosync.shared.settings import SettingsError

log = logging.getLogger(__name__)


class Service(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@contextlib.asynccontextmanager
async def running(service: Service) -> AsyncIterator[Service]:
    """Start a service for the length of a block (tests run services in-process with this)."""
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def serve_until_signalled(service: Service, stop_timeout_s: float = 5.0) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    await stop.wait()
    log.info("stopping")
    try:
        await asyncio.wait_for(service.stop(), stop_timeout_s)
    except TimeoutError:
        log.warning("stop deadline passed; exiting anyway", extra={"deadline_s": stop_timeout_s})


def run_main(make_service: Callable[[], Service], *, stop_timeout_s: float = 5.0) -> None:
    """Entry point body shared by the service commands: a bad setting exits 2 with one sentence."""

    async def _main() -> None:
        await serve_until_signalled(make_service(), stop_timeout_s)

    try:
        asyncio.run(_main())
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        pass
