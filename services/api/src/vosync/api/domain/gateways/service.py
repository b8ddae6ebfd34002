"""Reads of the gateways table (SQLAlchemy Core on the async engine, one connection per call)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import UnaryExpression

from vosync.api.domain.gateways import uptime_sql
from vosync.api.domain.gateways.schemas import (
    GatewayDetail,
    GatewayItem,
    GatewayList,
    GatewaySort,
    GatewaySummary,
    GatewayTypeName,
    InstanceGatewaySummary,
    InstanceTotals,
    OnlineCounts,
    TypeCounts,
)
from vosync.api.lib.directory import CachedInstances, InstanceInfo
from vosync.api.lib.jsonutil import dumps
from vosync.api.lib.list_cache import CachedList, ListCache, ListKey
from vosync.api.lib.redact import raw_data_shown
from vosync.api.lib.text_search import contains_any
from vosync.shared.cache_key import cache_key
from vosync.shared.catalogue import Projection, gateway_apis
from vosync.shared.db.models import Gateway, VosDataCache, VosInstance

_G = cast(Table, Gateway.__table__)
_I = cast(Table, VosInstance.__table__)
_C = cast(Table, VosDataCache.__table__)


def _full_list_keys(projection: Projection) -> dict[str, str]:
    """The cache keys of the unfiltered fetches feeding `projection`, per gateway type: their
    success says how fresh the table is (the rows' own timestamps move only when a gateway
    changes, so they cannot tell when VOS was last asked)."""
    return {t.value: cache_key(spec.path, {}) for t, spec in gateway_apis(projection).items()}


_CONFIG_KEYS = _full_list_keys(Projection.GATEWAY_CONFIG)
_ONLINE_KEYS = _full_list_keys(Projection.GATEWAY_ONLINE)

ITEM_COLUMNS = (
    _G.c.gateway_type,
    _G.c.gateway_name,
    _G.c.ip_address,
    _G.c.ip_source,
    _G.c.remote_ips,
    _G.c.port,
    _G.c.protocol,
    _G.c.is_online,
    _G.c.asr,
    _G.c.acd,
    _G.c.concurrent_calls,
    _G.c.capacity,
    _G.c.prefix,
    _G.c.register_type,
    _G.c.in_config,
    _G.c.online_changed_at,
    _G.c.synced_at,
    _G.c.online_synced_at,
)
_HISTORY_FIELDS = ("uptime_24h", "flaps_24h")  # computed per query by uptime_sql, after the columns
_ITEM_FIELDS = tuple(col.name for col in ITEM_COLUMNS) + _HISTORY_FIELDS

_SORT_COLUMNS = {
    "name": _G.c.gateway_name,
    "asr": _G.c.asr,
    "acd": _G.c.acd,
    "concurrent_calls": _G.c.concurrent_calls,
    "is_online": _G.c.is_online,
    "ip_address": _G.c.ip_address,
}


def _with_history(instance_id: int) -> tuple[Any, tuple[ColumnElement[Any], ColumnElement[Any]]]:
    """The gateways joined to their last 24 h of transitions, and the two history columns."""
    day = uptime_sql.day_summary(instance_id)
    return _G.outerjoin(day, uptime_sql.join_condition(day)), uptime_sql.columns(day)


def _order_by(sort: GatewaySort, history: tuple[ColumnElement[Any], ...]) -> list[UnaryExpression[Any]]:
    descending = sort.startswith("-")
    extra: dict[str, Any] = dict(zip(_HISTORY_FIELDS, history, strict=True))
    name = sort.lstrip("-")
    column: Any = _SORT_COLUMNS[name] if name in _SORT_COLUMNS else extra[name]
    first = column.desc().nulls_last() if descending else column.asc().nulls_last()
    # Ties break by name then type, so paging is stable.
    return [first, _G.c.gateway_name.asc(), _G.c.gateway_type.asc()]


def _counts(total: int, online: int) -> OnlineCounts:
    return OnlineCounts(total=total, online=online, offline=total - online)


# Rows arrive in ITEM_COLUMNS order, which is GatewayItem's field order: built positionally, a page
# of 100 takes ~0.03 ms instead of ~0.9 ms reading 17 attributes of each SQLAlchemy Row by name
# (that was 60 % of the list route's CPU).
if GatewayItem.__struct_fields__ != _ITEM_FIELDS:
    raise TypeError(f"ITEM_COLUMNS {_ITEM_FIELDS} must match GatewayItem {GatewayItem.__struct_fields__}")


def _type_counts(per_type: dict[str, Any], name: str) -> OnlineCounts:
    row = per_type.get(name)
    return _counts(row.total, row.online) if row is not None else _counts(0, 0)


def _total_of(per_type: dict[str, Any], types: Iterable[str], online: bool | None) -> int:
    """The rows matching the type and online filters, from the per-type counts."""
    counts = [_type_counts(per_type, name) for name in types]
    if online is None:
        return sum(c.total for c in counts)
    return sum(c.online if online else c.offline for c in counts)


def _item(row: Any) -> GatewayItem:
    return GatewayItem(*row)


class GatewayService:
    def __init__(
        self, engine: AsyncEngine, directory: CachedInstances, lists: ListCache | None = None
    ) -> None:
        self._engine = engine
        self._directory = directory
        self._lists = lists if lists is not None else ListCache(0)

    async def instance(self, instance_id: int) -> InstanceInfo:
        """The gateway routes' own lookup (CachedInstances.require): taking the `instance`
        dependency as well as this service, a route resolves two dependencies, in an anyio task
        group per request (benchmarks/README.md, issue 19, second part)."""
        return await self._directory.require(instance_id)

    def list_held(
        self,
        instance: InstanceInfo,
        *,
        gateway_type: GatewayTypeName | None,
        online: bool | None,
        q: str | None,
        sort: GatewaySort,
        limit: int,
        offset: int,
    ) -> CachedList | None:
        """The list reply if memory holds it (no await: the hot-read path's question), else None."""
        return self._lists.get(
            (instance.id, instance.name, gateway_type, online, q or None, sort, limit, offset)
        )

    async def list_cached(
        self,
        instance: InstanceInfo,
        *,
        gateway_type: GatewayTypeName | None,
        online: bool | None,
        q: str | None,
        sort: GatewaySort,
        limit: int,
        offset: int,
    ) -> CachedList:
        """The list reply as held bytes: from memory until a change note for the instance."""
        q = q or None  # "" filters nothing, like no q at all
        key: ListKey = (instance.id, instance.name, gateway_type, online, q, sort, limit, offset)
        cached = self._lists.get(key)
        if cached is not None:
            return cached
        generation = self._lists.generation(instance.id)
        reply = await self.list(
            instance, gateway_type=gateway_type, online=online, q=q, sort=sort, limit=limit, offset=offset
        )
        online_synced_at = reply.online_synced_at
        reply.age_s = None  # spliced in per request from online_synced_at, never frozen
        cached = CachedList.of(dumps(reply), online_synced_at)
        self._lists.put(key, cached, generation)
        return cached

    async def list(
        self,
        instance: InstanceInfo,
        *,
        gateway_type: GatewayTypeName | None,
        online: bool | None,
        q: str | None,
        sort: GatewaySort,
        limit: int,
        offset: int,
    ) -> GatewayList:
        conditions: list[ColumnElement[bool]] = [_G.c.vos_instance_id == instance.id]
        if gateway_type is not None:
            conditions.append(_G.c.gateway_type == gateway_type)
        if online is not None:
            conditions.append(_G.c.is_online.is_(online))
        if q:
            conditions.append(
                contains_any(
                    q,
                    _G.c.gateway_name,
                    _G.c.ip_address,
                    func.array_to_string(_G.c.remote_ips, literal_column("','")),
                )
            )
        joined, history = _with_history(instance.id)
        items_stmt = (
            select(*ITEM_COLUMNS, *history)
            .select_from(joined)
            .where(*conditions)
            .order_by(*_order_by(sort, history))
            .limit(limit)
            .offset(offset)
        )
        total_stmt = select(func.count()).select_from(_G).where(*conditions)
        counts_stmt = (
            select(
                _G.c.gateway_type,
                func.count().label("total"),
                func.count().filter(_G.c.is_online).label("online"),
                func.max(_G.c.synced_at).label("synced_at"),
                func.max(_G.c.online_synced_at).label("online_synced_at"),
            )
            .where(_G.c.vos_instance_id == instance.id)
            .group_by(_G.c.gateway_type)
        )
        types = [gateway_type] if gateway_type else ["mapping", "routing"]
        fetched_stmt = select(_C.c.cache_key, _C.c.synced_at).where(
            _C.c.vos_instance_id == instance.id,
            _C.c.cache_key.in_([_CONFIG_KEYS[t] for t in types] + [_ONLINE_KEYS[t] for t in types]),
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(items_stmt)).all()
            per_type = {row.gateway_type: row for row in (await conn.execute(counts_stmt)).all()}
            fetched = {row.cache_key: row.synced_at for row in (await conn.execute(fetched_stmt)).all()}
            # Without a text search the per-type counts already hold the total: one query less.
            total = (await conn.execute(total_stmt)).scalar_one() if q else _total_of(per_type, types, online)

        synced_at = _newest(fetched.get(_CONFIG_KEYS[t]) for t in types) or _newest(
            r.synced_at for r in per_type.values()
        )
        online_synced_at = _newest(fetched.get(_ONLINE_KEYS[t]) for t in types) or _newest(
            r.online_synced_at for r in per_type.values()
        )
        age_s = (
            round((datetime.now(UTC) - online_synced_at).total_seconds(), 3)
            if online_synced_at is not None
            else None
        )
        return GatewayList(
            instance_id=instance.id,
            instance_name=instance.name,
            total=total,
            limit=limit,
            offset=offset,
            counts=TypeCounts(
                mapping=_type_counts(per_type, "mapping"), routing=_type_counts(per_type, "routing")
            ),
            synced_at=synced_at,
            online_synced_at=online_synced_at,
            age_s=age_s,
            items=[_item(row) for row in rows],
        )

    async def get(
        self, instance: InstanceInfo, gateway_type: GatewayTypeName, name: str, *, unmasked: bool
    ) -> GatewayDetail | None:
        joined, history = _with_history(instance.id)
        stmt = (
            select(*ITEM_COLUMNS, *history, _G.c.lock_type, _G.c.raw_data, _G.c.created_at, _G.c.updated_at)
            .select_from(joined)
            .where(
                _G.c.vos_instance_id == instance.id,
                _G.c.gateway_type == gateway_type,
                _G.c.gateway_name == name,
            )
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            return None
        return GatewayDetail(
            **{field: getattr(row, field) for field in _ITEM_FIELDS},
            instance_id=instance.id,
            instance_name=instance.name,
            lock_type=row.lock_type,
            raw_data=raw_data_shown(row.raw_data, unmasked=unmasked),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    async def summary(self) -> GatewaySummary:
        stmt = (
            select(
                _I.c.id,
                _I.c.name,
                _I.c.enabled,
                _G.c.gateway_type,
                func.count(_G.c.id).label("total"),
                func.count(_G.c.id).filter(_G.c.is_online).label("online"),
            )
            .select_from(_I.outerjoin(_G, _G.c.vos_instance_id == _I.c.id))
            .group_by(_I.c.id, _I.c.name, _I.c.enabled, _G.c.gateway_type)
            .order_by(_I.c.id)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        per_instance: dict[int, dict[str, Any]] = {}
        for row in rows:
            entry = per_instance.setdefault(
                row.id, {"name": row.name, "enabled": row.enabled, "mapping": (0, 0), "routing": (0, 0)}
            )
            if row.gateway_type in ("mapping", "routing"):
                entry[row.gateway_type] = (row.total, row.online)
        instances: list[InstanceGatewaySummary] = []
        sums = {"mapping": [0, 0], "routing": [0, 0]}
        for instance_id, entry in per_instance.items():
            m_total, m_online = entry["mapping"]
            r_total, r_online = entry["routing"]
            sums["mapping"][0] += m_total
            sums["mapping"][1] += m_online
            sums["routing"][0] += r_total
            sums["routing"][1] += r_online
            instances.append(
                InstanceGatewaySummary(
                    instance_id=instance_id,
                    instance_name=entry["name"],
                    enabled=entry["enabled"],
                    mapping=_counts(m_total, m_online),
                    routing=_counts(r_total, r_online),
                    total=_counts(m_total + r_total, m_online + r_online),
                )
            )
        m, r = sums["mapping"], sums["routing"]
        return GatewaySummary(
            instances=instances,
            totals=InstanceTotals(
                mapping=_counts(m[0], m[1]),
                routing=_counts(r[0], r[1]),
                total=_counts(m[0] + r[0], m[1] + r[1]),
            ),
        )


def _newest(times: Iterable[datetime | None]) -> datetime | None:
    return max((t for t in times if t is not None), default=None)
