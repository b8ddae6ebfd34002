"""Reads of the phones, fee_rate_groups and suites tables (SQLAlchemy Core, one connection per call)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from vosync.api.domain.phones.schemas import (
    FeeRateGroupItem,
    FeeRateGroupList,
    PhoneCounts,
    PhoneDetail,
    PhoneItem,
    PhoneList,
    ProtocolName,
    SuiteItem,
    SuiteList,
)
from vosync.api.lib.directory import InstanceInfo
from vosync.api.lib.redact import raw_data_shown
from vosync.api.lib.text_search import contains_any
from vosync.shared.cache_key import cache_key
from vosync.shared.catalogue import API_PATH_PREFIX
from vosync.shared.db.models import FeeRateGroup, Phone, Suite, VosDataCache

_P = cast(Table, Phone.__table__)
_F = cast(Table, FeeRateGroup.__table__)
_S = cast(Table, Suite.__table__)
_C = cast(Table, VosDataCache.__table__)
# The full listing: its last success is when every online phone was last seen.
_LISTING_KEY = cache_key(API_PATH_PREFIX + "GetAllPhoneOnline", {})
_PROTOCOLS: dict[int, ProtocolName] = {0: "H323", 1: "SIP"}

_ITEM_COLUMNS = (
    _P.c.e164,
    _P.c.is_online,
    _P.c.remote_ip,
    _P.c.current_call,
    _P.c.register_time,
    _P.c.product_id,
    _P.c.last_seen_at,
)


def _last_seen(row: Any, listed_at: datetime | None) -> datetime | None:
    return (listed_at or row.last_seen_at) if row.is_online else row.last_seen_at


def _item(row: Any, listed_at: datetime | None) -> PhoneItem:
    return PhoneItem(
        e164=row.e164,
        is_online=row.is_online,
        remote_ip=row.remote_ip,
        concurrent_calls=row.current_call,
        register_time=row.register_time,
        product_id=row.product_id,
        last_seen_at=_last_seen(row, listed_at),
    )


class PhoneService:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def _listed_at(self, instance_id: int) -> Any:
        return select(_C.c.synced_at).where(
            _C.c.vos_instance_id == instance_id, _C.c.cache_key == _LISTING_KEY
        )

    async def list(
        self, instance: InstanceInfo, *, online: bool | None, q: str | None, limit: int, offset: int
    ) -> PhoneList:
        conditions: list[ColumnElement[bool]] = [_P.c.vos_instance_id == instance.id]
        if online is not None:
            conditions.append(_P.c.is_online.is_(online))
        if q:
            conditions.append(contains_any(q, _P.c.e164, _P.c.remote_ip))
        items_stmt = (
            select(*_ITEM_COLUMNS).where(*conditions).order_by(_P.c.e164.asc()).limit(limit).offset(offset)
        )
        counts_stmt = select(
            func.count().label("total"), func.count().filter(_P.c.is_online).label("online")
        ).where(_P.c.vos_instance_id == instance.id)
        total_stmt = select(func.count()).select_from(_P).where(*conditions)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(items_stmt)).all()
            counts = (await conn.execute(counts_stmt)).one()
            listed_at = (await conn.execute(self._listed_at(instance.id))).scalar_one_or_none()
            if q:
                total = (await conn.execute(total_stmt)).scalar_one()
            else:  # the counts already hold it: one query less
                total = (
                    counts.total
                    if online is None
                    else counts.online
                    if online
                    else counts.total - counts.online
                )
        return PhoneList(
            instance_id=instance.id,
            instance_name=instance.name,
            total=total,
            limit=limit,
            offset=offset,
            counts=PhoneCounts(
                total=counts.total, online=counts.online, offline=counts.total - counts.online
            ),
            synced_at=listed_at,
            items=[_item(row, listed_at) for row in rows],
        )

    async def get(self, instance: InstanceInfo, e164: str, *, unmasked: bool) -> PhoneDetail | None:
        stmt = select(_P).where(_P.c.vos_instance_id == instance.id, _P.c.e164 == e164)
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
            listed_at = (await conn.execute(self._listed_at(instance.id))).scalar_one_or_none()
        if row is None:
            return None
        return PhoneDetail(
            **{f: getattr(_item(row, listed_at), f) for f in PhoneItem.__struct_fields__},
            instance_id=instance.id,
            instance_name=instance.name,
            local_ip=row.local_ip,
            update_time=row.update_time,
            protocol=_PROTOCOLS.get(row.protocol) if row.protocol is not None else None,
            crypto_type=row.crypto_type,
            online_changed_at=row.online_changed_at,
            details_synced_at=row.detail_synced_at,
            raw_data=raw_data_shown(row.detail_data, unmasked=unmasked),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    async def fee_rate_groups(self, instance: InstanceInfo) -> FeeRateGroupList:
        stmt = select(_F.c.name, _F.c.memo, _F.c.synced_at).where(_F.c.vos_instance_id == instance.id)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt.order_by(_F.c.name))).all()
        items = [FeeRateGroupItem(name=r.name, memo=r.memo, synced_at=r.synced_at) for r in rows]
        return FeeRateGroupList(instance.id, instance.name, len(items), items)

    async def suites(self, instance: InstanceInfo, *, unmasked: bool) -> SuiteList:
        stmt = select(_S).where(_S.c.vos_instance_id == instance.id).order_by(_S.c.suite_id)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        items = [
            SuiteItem(
                id=r.suite_id,
                name=r.name,
                rent_type=r.rent_type,
                rent_period=r.rent_period,
                rent_fee=r.rent_fee,
                min_consumption=r.min_consumption,
                lower_consumption=r.lower_consumption,
                gift_money=r.gift_money,
                nonholonomic_order=r.nonholonomic_order,
                memo=r.memo,
                raw_data=raw_data_shown(r.raw_data, unmasked=unmasked),
                synced_at=r.synced_at,
            )
            for r in rows
        ]
        return SuiteList(instance.id, instance.name, len(items), items)
