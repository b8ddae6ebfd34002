"""Reads of one gateway's history: its row, its transitions, its samples or hourly rollups."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from vosync.api.domain.gateways.schemas import GatewayTypeName
from vosync.api.domain.history.schemas import (
    Figures,
    GatewayHistory,
    Resolution,
    Sample,
    TransitionItem,
    Uptime,
)
from vosync.api.domain.history.uptime import Change, Current, flaps, uptime
from vosync.api.lib.directory import InstanceInfo

RAW_UP_TO = timedelta(days=2)  # longer windows get hourly rollups
WINDOWS = {"h1": timedelta(hours=1), "h24": timedelta(hours=24), "d7": timedelta(days=7)}

_ROW = text(
    "SELECT id, is_online, online_synced_at IS NOT NULL AS status_known FROM gateways"
    " WHERE vos_instance_id = :instance AND gateway_type = :type AND gateway_name = :name"
)
_CHANGES = text(
    "SELECT is_online, previous, changed_at, event_id FROM gateway_transitions"
    " WHERE instance_id = :instance AND gateway_type = :type AND name = :name"
    " AND changed_at >= :lo AND changed_at <= :hi ORDER BY changed_at, event_id"
)
_RAW = text(
    "SELECT at, concurrent_calls, asr, acd FROM gateway_samples"
    " WHERE gateway_id = :gateway AND at >= :since AND at < :until ORDER BY at"
)
# Rolled-up hours, then the hours after the newest rollup aggregated from the raw samples (the
# current hour, and any the maintenance has not reached yet). The boundary is read first and passed
# as a plain parameter: the planner then prunes partitions and bounds the index range itself.
_ROLLED_UP_TO = text("SELECT max(at) + interval '1 hour' FROM gateway_rollup_marks WHERE rows > 0")
_HOURLY = text(
    """
    SELECT at, calls_avg AS calls, asr_avg AS asr, acd_avg AS acd,
           calls_min, calls_max, asr_min, asr_max, acd_min, acd_max
    FROM gateway_samples_hourly
    WHERE gateway_id = :gateway AND at >= :since_hour AND at < :rolled_end
    UNION ALL
    SELECT date_trunc('hour', at), avg(concurrent_calls), avg(asr), avg(acd),
           min(concurrent_calls), max(concurrent_calls), min(asr), max(asr), min(acd), max(acd)
    FROM gateway_samples
    WHERE gateway_id = :gateway AND at >= :raw_from AND at < :until
    GROUP BY 1
    ORDER BY 1
    """
)


def _num(value: Any) -> float | None:
    """Samples are stored as float4 (bytes count at 14 M rows a day): 6 decimals is what they hold,
    and what makes a rollup's average and the same average of raw samples read alike."""
    return None if value is None else round(float(value), 6)


class HistoryService:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def gateway(
        self,
        instance: InstanceInfo,
        gateway_type: GatewayTypeName,
        name: str,
        since: datetime,
        until: datetime,
        now: datetime,
    ) -> GatewayHistory | None:
        """None: neither a gateway row nor any transition of that name."""
        keys = {"instance": instance.id, "type": gateway_type, "name": name}
        lo, hi = min(since, now - WINDOWS["d7"]), max(until, now)
        resolution: Resolution = "minute" if until - since <= RAW_UP_TO else "hour"
        async with self._engine.connect() as conn:
            row = (await conn.execute(_ROW, keys)).first()
            records = (await conn.execute(_CHANGES, {**keys, "lo": lo, "hi": hi})).all()
            samples: list[Sample] = []
            if row is not None:
                samples = await self._samples(conn, row.id, since, until, resolution)
        if row is None and not records:
            return None
        changes = [Change(r.is_online, r.previous, r.changed_at, r.event_id) for r in records]
        current = Current(row.is_online, row.status_known) if row is not None else Current(False, False)
        shown = [c for c in reversed(changes) if since <= c.changed_at <= until]
        return GatewayHistory(
            instance_id=instance.id,
            gateway_type=gateway_type,
            name=name,
            is_online=current.is_online,
            since=since,
            until=until,
            transitions=[
                TransitionItem(
                    c.is_online, c.previous, c.changed_at, str(c.event_id) if c.event_id is not None else None
                )
                for c in shown
            ],
            uptime=Uptime(
                **{key: uptime(changes, current, now - span, now) for key, span in WINDOWS.items()}
            ),
            flaps_24h=flaps(changes, now - WINDOWS["h24"], now),
            resolution=resolution,
            samples=samples,
        )

    async def _samples(
        self, conn: Any, gateway_id: int, since: datetime, until: datetime, resolution: Resolution
    ) -> list[Sample]:
        if resolution == "minute":
            rows = (await conn.execute(_RAW, {"gateway": gateway_id, "since": since, "until": until})).all()
            return [Sample(r.at, r.concurrent_calls, _num(r.asr), _num(r.acd)) for r in rows]
        since_hour = since.replace(minute=0, second=0, microsecond=0)
        upto = (await conn.execute(_ROLLED_UP_TO)).scalar() or since_hour  # none: all raw
        params = {
            "gateway": gateway_id,
            "since_hour": since_hour,
            "until": until,
            "rolled_end": min(until, upto),
            "raw_from": max(since_hour, upto),
        }
        rows = (await conn.execute(_HOURLY, params)).all()
        return [
            Sample(
                r.at,
                _num(r.calls),
                _num(r.asr),
                _num(r.acd),
                min=Figures(r.calls_min, _num(r.asr_min), _num(r.acd_min)),
                max=Figures(r.calls_max, _num(r.asr_max), _num(r.acd_max)),
            )
            for r in rows
        ]
