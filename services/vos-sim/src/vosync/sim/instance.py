"""One simulated VOS instance: its data, faults, counters, drift task and HTTP server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from typing import Any

from aiohttp import web

from vosync.sim.control import ControlApi
from vosync.sim.faults import FaultTable
from vosync.sim.state import InstanceState
from vosync.sim.vos_api import API_NAMES, PATH_PREFIX, VosApi

log = logging.getLogger(__name__)


class SimInstance:
    def __init__(
        self,
        index: int,
        *,
        gateways: int,
        seed: int,
        host: str = "127.0.0.1",
        port: int = 0,
        change_interval_s: float = 10.0,
        change_fraction: float = 0.02,
        epoch_ms: int | None = None,
    ) -> None:
        self.index = index
        self.host = host
        self.port = port
        self.gateways = gateways
        self.seed = seed
        self.epoch_ms = epoch_ms
        self._state: InstanceState | None = None
        self.faults = FaultTable(API_NAMES)
        self.calls: Counter[str] = Counter()
        self._initial_changes = (change_interval_s, change_fraction)
        self.change_interval_s, self.change_fraction = self._initial_changes
        self._changes_updated = asyncio.Event()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._drift_task: asyncio.Task[None] | None = None

    @property
    def state(self) -> InstanceState:
        if self._state is None:
            raise RuntimeError("the instance builds its data in start(); start it first")
        return self._state

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(PATH_PREFIX + "{api}", VosApi(self).handle)
        app.router.add_routes(ControlApi(self).routes())
        return app

    async def start(self) -> None:
        if self._state is None:
            self._state = await InstanceState.create(self.index, self.gateways, self.seed, self.epoch_ms)
        # handler_cancellation: a client that gives up on a held ("timeout") request frees its task.
        runner = web.AppRunner(
            self.make_app(),
            access_log=None,
            handle_signals=False,
            handler_cancellation=True,
            shutdown_timeout=1.0,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            where = f"vos-sim instance {self.index}: cannot listen on {self.host}:{self.port}"
            raise OSError(exc.errno, f"{where}: {exc.strerror}") from exc
        self._runner = runner
        self.port = runner.addresses[0][1]
        self._closing.clear()
        self._drift_task = asyncio.create_task(self._drift_loop(), name=f"vos-sim-drift-{self.index}")
        log.info("vos-sim instance listening", extra={"index": self.index, "url": self.url})

    async def stop(self) -> None:
        self._closing.set()  # releases requests held by the "timeout" fault
        if self._drift_task is not None:
            self._drift_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drift_task
            self._drift_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---- used by the handlers -------------------------------------------------------------------

    def count_call(self, api: str) -> None:
        self.calls[api] += 1

    async def hold(self, seconds: float) -> None:
        """Wait as a hung VOS would, until the time is up or the instance stops."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    def set_changes(self, interval_s: float, fraction: float) -> None:
        self.change_interval_s, self.change_fraction = interval_s, fraction
        self._changes_updated.set()

    def changes_json(self) -> dict[str, Any]:
        return {"interval_s": self.change_interval_s, "fraction": self.change_fraction}

    async def reset(self) -> None:
        """The seed's initial data, no faults, zero counters, the drift rate given at start."""
        self.state.install(await asyncio.to_thread(self.state.build))
        self.faults.clear()
        self.calls.clear()
        self.set_changes(*self._initial_changes)

    async def _drift_loop(self) -> None:
        while True:
            self._changes_updated.clear()
            interval, fraction = self.change_interval_s, self.change_fraction
            if interval <= 0 or fraction <= 0:
                await self._changes_updated.wait()
                continue
            try:
                await asyncio.wait_for(self._changes_updated.wait(), interval)
            except TimeoutError:
                try:
                    self.state.drift(fraction)
                except Exception:  # a bug in one step must not end drift for the process's life
                    log.exception("vos-sim drift step failed", extra={"index": self.index})
