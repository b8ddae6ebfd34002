"""Readiness: can this api serve anything? Which dependency is degraded?

The api degrades instead of failing: without PostgreSQL it still serves its in-process cache and
fresh fetches through the pollers; without NATS it still serves stored rows. Readiness therefore
fails only when nothing can be served (both dependencies down and an empty in-process cache), so an
outage does not make k8s remove every api pod and the promised stale serving reaches clients.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from vosync.shared.broker import VosyncBroker

CHECK_TIMEOUT_S = 2.0


class HealthService:
    def __init__(
        self,
        engine: AsyncEngine,
        broker: VosyncBroker,
        hot_entries: Callable[[], int] = lambda: 0,
        on_checked: Callable[[dict[str, bool]], None] = lambda _checks: None,
    ) -> None:
        self._engine = engine
        self._broker = broker
        self._hot_entries = hot_entries
        self._on_checked = on_checked  # feeds /metrics with the last result

    async def checks(self) -> dict[str, bool]:
        checks = {"database": await self._database(), "nats": self._nats_connected()}
        self._on_checked(checks)
        return checks

    def can_serve(self, checks: dict[str, bool]) -> bool:
        """Any dependency up, or cached replies to hand out: the pod is worth routing to."""
        return any(checks.values()) or self._hot_entries() > 0

    def _nats_connected(self) -> bool:
        try:
            return self._broker.client.is_connected
        except RuntimeError:  # not connected yet, or stopped
            return False

    async def _database(self) -> bool:
        async def probe() -> None:
            async with self._engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

        try:
            await asyncio.wait_for(probe(), CHECK_TIMEOUT_S)
        except Exception:  # a probe reports, it never raises
            return False
        return True
