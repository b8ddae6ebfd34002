"""Status of the cached VOS replies of an instance, and invalidation (next read refetches)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import cast

from faststream.nats import NatsBroker
from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from vosync.api.domain.cache.schemas import CacheEntryStatus, CacheInvalidated, CacheStatus
from vosync.api.lib.directory import InstanceInfo
from vosync.api.lib.hot_cache import HotCache
from vosync.api.lib.jsonutil import seconds_since
from vosync.shared import channels
from vosync.shared.catalogue import API_PATH_PREFIX
from vosync.shared.db.models import VosDataCache
from vosync.shared.messages import CacheChanged

log = logging.getLogger(__name__)
_C = cast(Table, VosDataCache.__table__)


def api_path_of(value: str) -> str:
    """Accept an API path (`/external/server/GetSuite`) or just its name (`GetSuite`)."""
    return value if value.startswith("/") else API_PATH_PREFIX + value


class CacheService:
    def __init__(self, engine: AsyncEngine, broker: NatsBroker, hot: HotCache) -> None:
        self._engine = engine
        self._broker = broker
        self._hot = hot

    async def status(self, instance: InstanceInfo) -> CacheStatus:
        stmt = (
            select(
                _C.c.api_name,
                _C.c.api_path,
                _C.c.cache_key,
                _C.c.synced_at,
                _C.c.expires_at,
                _C.c.is_valid,
                _C.c.ret_code,
                _C.c.error_kind,
                _C.c.error_message,
                _C.c.last_error_at,
                _C.c.last_attempt_at,
            )
            .where(_C.c.vos_instance_id == instance.id)
            .order_by(_C.c.api_name, _C.c.cache_key)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        now = datetime.now(UTC)
        items = [
            CacheEntryStatus(
                api_name=row.api_name,
                api_path=row.api_path,
                cache_key=row.cache_key,
                synced_at=row.synced_at,
                expires_at=row.expires_at,
                age_s=seconds_since(row.synced_at, now),
                is_valid=row.is_valid,
                ret_code=row.ret_code,
                error_kind=row.error_kind,
                error_message=row.error_message,
                last_error_at=row.last_error_at,
                last_attempt_at=row.last_attempt_at,
            )
            for row in rows
        ]
        return CacheStatus(
            instance_id=instance.id, instance_name=instance.name, items=items, total=len(items)
        )

    async def invalidate(self, instance: InstanceInfo, api_path: str | None) -> CacheInvalidated:
        path = api_path_of(api_path) if api_path else None
        stmt = update(_C).where(_C.c.vos_instance_id == instance.id).values(is_valid=False)
        if path is not None:
            stmt = stmt.where(_C.c.api_path == path)
        async with self._engine.begin() as conn:
            keys = [row.cache_key for row in (await conn.execute(stmt.returning(_C.c.cache_key))).all()]
        if path is None:
            self._hot.invalidate_instance(instance.id)
        else:
            self._hot.invalidate(instance.id, keys)
        if keys:
            # Other api replicas drop their in-process copies too.
            body, headers = channels.CACHE_CHANGED.encode(
                CacheChanged(instance_id=instance.id, cache_keys=keys)
            )
            await self._broker.publish(
                body, channels.CACHE_CHANGED.subject(instance_id=instance.id), headers=headers
            )
        log.info("cache invalidated", extra={"instance_id": instance.id, "api_path": path, "rows": len(keys)})
        return CacheInvalidated(instance_id=instance.id, api_path=path, invalidated=len(keys))
