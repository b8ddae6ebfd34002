"""Readiness: the database answers and NATS is connected."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from vosync.shared.broker import VosyncBroker

CHECK_TIMEOUT_S = 2.0


class HealthService:
    def __init__(self, engine: AsyncEngine, broker: VosyncBroker) -> None:
        self._engine = engine
        self._broker = broker

    async def checks(self) -> dict[str, bool]:
        return {"database": await self._database(), "nats": self._nats_connected()}

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
