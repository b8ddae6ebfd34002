"""uptime_24h and flaps_24h of every gateway of an instance, in the list's own query (set-based).

The same rule as domain/history/uptime.py, in SQL: one pass over the instance's transitions of the
last 24 h (two daily partitions, by partition pruning), grouped per gateway, LEFT JOINed to the rows.
Gateways with no transition in the window take their current state for the observed part of it.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Float,
    Subquery,
    Table,
    and_,
    case,
    func,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.functions import coalesce

from vosync.shared.db.models import Gateway, gateway_transitions

_G = cast(Table, Gateway.__table__)
_T = gateway_transitions
WINDOW: ColumnElement[Any] = literal_column("interval '24 hours'")


def day_summary(instance_id: int) -> Subquery:
    """Per gateway with a transition in the last 24 h: flaps, online seconds, the first one."""
    ends = func.lead(_T.c.changed_at, 1, func.now()).over(
        partition_by=(_T.c.gateway_type, _T.c.name), order_by=(_T.c.changed_at, _T.c.event_id)
    )
    recent = (
        select(
            _T.c.gateway_type,
            _T.c.name,
            _T.c.is_online,
            _T.c.previous,
            _T.c.changed_at,
            _T.c.event_id,
            ends.label("ends"),
        )
        .where(
            _T.c.instance_id == instance_id,
            _T.c.changed_at >= func.now() - WINDOW,
            _T.c.changed_at <= func.now(),
        )
        .subquery("recent")
    )
    r = recent.c
    first_previous = func.array_agg(aggregate_order_by(r.previous, r.changed_at, r.event_id))[1]
    return (
        select(
            r.gateway_type,
            r.name,
            func.count().label("flaps"),
            coalesce(func.sum(func.extract("epoch", r.ends - r.changed_at)).filter(r.is_online), 0).label(
                "online_s"
            ),
            func.min(r.changed_at).label("first_at"),
            type_coerce(first_previous, Boolean).label("first_previous"),
        )
        .group_by(r.gateway_type, r.name)
        .subquery("day")
    )


def _seconds(interval: Any) -> ColumnElement[Any]:
    return func.extract("epoch", interval)


def columns(day: Subquery) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """(uptime_24h, flaps_24h) over gateways LEFT JOIN day."""
    now = func.now()
    start = now - WINDOW
    observed_from = case(
        (and_(day.c.name.is_not(None), day.c.first_previous.is_(None)), day.c.first_at), else_=start
    )
    online_s = case(
        (day.c.name.is_(None), case((_G.c.is_online, _seconds(now - start)), else_=0)),
        else_=day.c.online_s
        + case((day.c.first_previous.is_(True), _seconds(day.c.first_at - observed_from)), else_=0),
    )
    observed_s = _seconds(now - observed_from)
    uptime = case(
        (and_(day.c.name.is_(None), _G.c.online_synced_at.is_(None)), None),
        (observed_s <= 0, None),
        else_=func.least(1.0, func.greatest(0.0, online_s / observed_s)),
    )
    return sql_cast(uptime, Float).label("uptime_24h"), coalesce(day.c.flaps, 0).label("flaps_24h")


def join_condition(day: Subquery) -> ColumnElement[bool]:
    return and_(day.c.gateway_type == _G.c.gateway_type, day.c.name == _G.c.gateway_name)
