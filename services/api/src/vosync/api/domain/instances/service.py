"""CRUD on vos_instances, each change mirrored to the KV bucket the pollers watch.

The KV write happens inside the database transaction, before commit: if NATS refuses it the
change is rolled back, so the table and the bucket do not drift apart; `reconcile` at start repairs
whatever a crash between the two left behind.
"""

from __future__ import annotations

import logging
from typing import Any, cast
from urllib.parse import urlsplit

from litestar.exceptions import ClientException, NotFoundException
from msgspec import UnsetType
from nats.js.errors import KeyNotFoundError, NoKeysError
from nats.js.kv import KeyValue
from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vosync.api.domain.instances.schemas import Instance, InstanceCreate, InstanceList, InstancePatch
from vosync.api.lib.directory import CachedInstances, InstanceInfo
from vosync.api.lib.errors import ConflictException
from vosync.api.lib.hot_cache import HotCache
from vosync.api.lib.validate import check_instance_id, check_text
from vosync.shared import bus
from vosync.shared.db.models import VosInstance
from vosync.shared.instances import InstanceRecord

log = logging.getLogger(__name__)
_T = cast(Table, VosInstance.__table__)
_COLUMNS = (
    _T.c.id,
    _T.c.name,
    _T.c.base_url,
    _T.c.description,
    _T.c.enabled,
    _T.c.timeout_s,
    _T.c.created_at,
    _T.c.updated_at,
)


def clean_name(name: str) -> str:
    name = check_text(name, "name").strip()
    if not name:
        raise ClientException(detail="name must not be blank")
    return name


def clean_base_url(url: str) -> str:
    """An http(s) URL with a host, without a trailing slash (the poller appends the API path)."""
    url = check_text(url, "base_url").strip()
    example = "e.g. http://10.0.0.5 or https://vos.example.com:8443"
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        raise ClientException(detail=f"base_url is not a valid URL ({example})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise ClientException(detail=f"base_url must be an http(s) URL with a host ({example})")
    if any(ch.isspace() for ch in url):
        raise ClientException(detail="base_url must not contain spaces")
    return url.rstrip("/")


def _instance(row: Any) -> Instance:
    return Instance(
        id=row.id,
        name=row.name,
        base_url=row.base_url,
        description=row.description,
        enabled=row.enabled,
        timeout_s=row.timeout_s,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _record(row: Any) -> InstanceRecord:
    return InstanceRecord(
        id=row.id, name=row.name, base_url=row.base_url, enabled=row.enabled, timeout_s=row.timeout_s
    )


class InstanceService:
    def __init__(self, engine: AsyncEngine, kv: KeyValue, directory: CachedInstances, hot: HotCache) -> None:
        self._engine = engine
        self._kv = kv
        self._directory = directory
        self._hot = hot

    async def list(self) -> InstanceList:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(*_COLUMNS).order_by(_T.c.id))).all()
        return InstanceList(items=[_instance(row) for row in rows], total=len(rows))

    async def get(self, instance_id: int) -> Instance:
        check_instance_id(instance_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(*_COLUMNS).where(_T.c.id == instance_id))).first()
        if row is None:
            raise NotFoundException(detail=f"unknown instance {instance_id}")
        return _instance(row)

    async def create(self, data: InstanceCreate) -> Instance:
        values: dict[str, Any] = {
            "name": clean_name(data.name),
            "base_url": clean_base_url(data.base_url),
            "description": check_text(data.description, "description") if data.description else None,
            "enabled": data.enabled,
            "timeout_s": data.timeout_s,
        }
        try:
            async with self._engine.begin() as conn:
                row = (await conn.execute(insert(_T).values(**values).returning(*_COLUMNS))).one()
                await self._mirror(row)
        except IntegrityError:
            raise ConflictException(detail=f"an instance named {values['name']!r} already exists") from None
        self._directory.put(InstanceInfo(row.id, row.name, row.enabled))
        log.info("instance created", extra={"instance_id": row.id, "instance_name": row.name})
        return _instance(row)

    async def patch(self, instance_id: int, data: InstancePatch) -> Instance:
        check_instance_id(instance_id)
        values: dict[str, Any] = {}
        if isinstance(data.name, str):
            values["name"] = clean_name(data.name)
        if isinstance(data.base_url, str):
            values["base_url"] = clean_base_url(data.base_url)
        if not isinstance(data.description, UnsetType):
            values["description"] = check_text(data.description, "description") if data.description else None
        if isinstance(data.enabled, bool):
            values["enabled"] = data.enabled
        if not isinstance(data.timeout_s, UnsetType):
            values["timeout_s"] = data.timeout_s
        if not values:
            return await self.get(instance_id)
        values["updated_at"] = func.now()
        try:
            async with self._engine.begin() as conn:
                row = await self._update(conn, instance_id, values)
                await self._mirror(row)
        except IntegrityError:
            name = values.get("name")
            raise ConflictException(detail=f"an instance named {name!r} already exists") from None
        self._directory.put(InstanceInfo(row.id, row.name, row.enabled))
        log.info("instance changed", extra={"instance_id": instance_id, "fields": sorted(values)})
        return _instance(row)

    async def delete(self, instance_id: int) -> None:
        check_instance_id(instance_id)
        async with self._engine.begin() as conn:
            deleted = (
                await conn.execute(delete(_T).where(_T.c.id == instance_id).returning(_T.c.id))
            ).first()
            if deleted is None:
                raise NotFoundException(detail=f"unknown instance {instance_id}")
            await self._kv.delete(bus.instance_key(instance_id))
        self._directory.remove(instance_id)
        self._hot.invalidate_instance(instance_id)
        log.info("instance deleted", extra={"instance_id": instance_id})

    async def reconcile(self) -> tuple[int, int]:
        """Bring the KV bucket to the table: put changed records, delete keys of gone instances."""
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(*_COLUMNS))).all()
        wanted = {bus.instance_key(row.id): _record(row).to_kv() for row in rows}
        try:
            present = set(await self._kv.keys())
        except NoKeysError:
            present = set()
        put = removed = 0
        for key in sorted(present - wanted.keys()):
            await self._kv.delete(key)
            removed += 1
        for key, value in wanted.items():
            try:
                current: bytes | None = (await self._kv.get(key)).value
            except KeyNotFoundError:
                current = None
            if current != value:
                await self._kv.put(key, value)
                put += 1
        log.info(
            "instances reconciled into kv",
            extra={"instances": len(wanted), "put": put, "removed": removed},
        )
        return put, removed

    async def _update(self, conn: AsyncConnection, instance_id: int, values: dict[str, Any]) -> Any:
        row = (
            await conn.execute(update(_T).where(_T.c.id == instance_id).values(**values).returning(*_COLUMNS))
        ).first()
        if row is None:
            raise NotFoundException(detail=f"unknown instance {instance_id}")
        return row

    async def _mirror(self, row: Any) -> None:
        await self._kv.put(bus.instance_key(row.id), _record(row).to_kv())
