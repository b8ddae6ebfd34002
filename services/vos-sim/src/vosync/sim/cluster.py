"""K simulated VOS instances in one process: the in-process API for tests, the launcher and the CLI."""

from __future__ import annotations

from types import TracebackType

from vosync.sim.instance import SimInstance


class SimCluster:
    """`async with SimCluster(instances=2, gateways=50, seed=1) as sim:` then use `sim.urls`.

    Instance i listens on base_port + i, or on a free port each when base_port is 0. `gateways` is the
    number of mapping gateways and, again, of routing gateways per instance.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        base_port: int = 0,
        instances: int = 1,
        gateways: int = 100,
        seed: int = 0,
        change_interval_s: float = 10.0,
        change_fraction: float = 0.02,
        epoch_ms: int | None = None,
    ) -> None:
        if instances < 1:
            raise ValueError("instances must be at least 1")
        if gateways < 0:
            raise ValueError("gateways must be 0 or more")
        if change_interval_s < 0 or not 0 <= change_fraction <= 1:
            raise ValueError("change_interval_s must be >= 0 and change_fraction within [0, 1]")
        self.instances = [
            SimInstance(
                index,
                gateways=gateways,
                seed=seed,
                host=host,
                port=base_port + index if base_port else 0,
                change_interval_s=change_interval_s,
                change_fraction=change_fraction,
                epoch_ms=epoch_ms,
            )
            for index in range(instances)
        ]
        self._started: list[SimInstance] = []

    @property
    def urls(self) -> list[str]:
        """Base URLs like http://127.0.0.1:PORT (no trailing slash), by instance index."""
        return [instance.url for instance in self.instances]

    async def start(self) -> None:
        try:
            for instance in self.instances:
                await instance.start()
                self._started.append(instance)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        while self._started:
            await self._started.pop().stop()

    async def __aenter__(self) -> SimCluster:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
