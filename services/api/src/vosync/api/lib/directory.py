"""Which instances exist and their names, kept in memory so the proxy's hot path needs no query.

Loaded at start, changed at once by this process's own instance CRUD, reloaded every few seconds
(changes made through another api replica), and looked up in the database on a miss (an instance
another replica created a moment ago).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import cast

from litestar.exceptions import NotFoundException
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from vosync.api.lib.validate import check_instance_id
from vosync.shared.db.models import VosInstance

log = logging.getLogger(__name__)
_T = cast(Table, VosInstance.__table__)


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    id: int
    name: str
    enabled: bool


class CachedInstances:
    def __init__(self, engine: AsyncEngine, refresh_s: float = 5.0) -> None:
        self._engine = engine
        self._refresh_s = refresh_s
        self._by_id: dict[int, InstanceInfo] = {}
        self._version = 0  # bumped by local changes; a reload that raced one is discarded
        self._task: asyncio.Task[None] | None = None

    def cached(self, instance_id: int) -> InstanceInfo | None:
        return self._by_id.get(instance_id)

    async def get(self, instance_id: int) -> InstanceInfo | None:
        info = self._by_id.get(instance_id)
        if info is not None:
            return info
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(_T.c.id, _T.c.name, _T.c.enabled).where(_T.c.id == instance_id))
            ).first()
        if row is None:
            return None
        info = InstanceInfo(row.id, row.name, row.enabled)
        self._by_id[instance_id] = info
        return info

    async def require(self, instance_id: int) -> InstanceInfo:
        """The instance, or 404 (also for ids no database row can have)."""
        info = await self.get(check_instance_id(instance_id))
        if info is None:
            raise NotFoundException(detail=f"unknown instance {instance_id}")
        return info

    def put(self, info: InstanceInfo) -> None:
        self._version += 1
        self._by_id[info.id] = info

    def remove(self, instance_id: int) -> None:
        self._version += 1
        self._by_id.pop(instance_id, None)

    async def load(self) -> None:
        version = self._version
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(_T.c.id, _T.c.name, _T.c.enabled))).all()
        if version == self._version:
            self._by_id = {row.id: InstanceInfo(row.id, row.name, row.enabled) for row in rows}

    def start(self) -> None:
        self._task = asyncio.create_task(self._refresh_forever(), name="instance-directory")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _refresh_forever(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self._refresh_s)
            try:
                await self.load()
                if failing:
                    log.info("instance directory reloads again")
                failing = False
            except Exception as exc:  # the database may be briefly away; keep the last copy
                if not failing:
                    log.warning("instance directory reload failed", extra={"error": repr(exc)})
                failing = True
