"""Readiness: the database answers and NATS is connected."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NatsClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

CHECK_TIMEOUT_S = 2.0


class HealthService:
    def __init__(self, engine: AsyncEngine, nc: NatsClient) -> None:
        self._engine = engine
        self._nc = nc

    async def checks(self) -> dict[str, bool]:
        return {"database": await self._database(), "nats": self._nc.is_connected}

    async def _database(self) -> bool:
        async def probe() -> None:
            async with self._engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

        try:
            await asyncio.wait_for(probe(), CHECK_TIMEOUT_S)
        except Exception:  # a probe reports, it never raises
            return False
        return True
