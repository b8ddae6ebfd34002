"""The event log, read from `gateway_transitions`: the writer puts every transition there in the
transaction that puts it in the outbox, under the same id the relay publishes on GATEWAY_EVENTS.

Why the table and not the stream: the stream has no index by instance or time, paging it newest
first means walking sequences backwards one message at a time, and its ids (stream sequences) are
not the event ids clients hold; the table is indexed by (instance, event id), kept 90 days (the
stream 14), and serves both the paged log and the SSE resume with one query each. With history off
the table is empty, and so is the log.

The SSE resume reads the outbox instead: its payload is the event exactly as the relay publishes it
(with the figures), committed rows not yet published included, and it is there with history off.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from vosync.api.domain.events.schemas import EventItem, EventPage
from vosync.shared.messages import GatewayOnlineEvent

log = logging.getLogger(__name__)

_SELECT = (
    "SELECT event_id, instance_id, gateway_type, name, is_online, previous, changed_at"
    " FROM gateway_transitions WHERE event_id IS NOT NULL"
)
# Only the conditions asked for, so the planner sees plain predicates (the (instance, event id)
# index, or the event id index, walked backwards from `before`).
_CONDITIONS = {
    "instance": " AND instance_id = :instance",
    "since": " AND changed_at >= :since",
    "before": " AND event_id < :before",
}
_ORDER = " ORDER BY event_id DESC LIMIT :limit"
_MISSED = text(
    "SELECT id, payload FROM gateway_event_outbox"
    " WHERE id > :after AND dead_at IS NULL"
    " AND (CAST(:instance AS int) IS NULL OR vos_instance_id = :instance)"
    " ORDER BY id LIMIT :limit"
)


def _item(r: Any) -> EventItem:
    return EventItem(
        str(r.event_id), r.instance_id, r.gateway_type, r.name, r.is_online, r.previous, r.changed_at
    )


class EventLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def page(
        self, instance_id: int | None, since: datetime | None, before: int | None, limit: int
    ) -> EventPage:
        given = {"instance": instance_id, "since": since, "before": before}
        params: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        sql = _SELECT + "".join(_CONDITIONS[k] for k in params) + _ORDER
        async with self._engine.connect() as conn:
            rows = (await conn.execute(text(sql), {**params, "limit": limit + 1})).all()
        items = [_item(r) for r in rows[:limit]]
        return EventPage(items=items, next=items[-1].id if len(rows) > limit and items else None)

    async def missed(self, instance_id: int | None, after: int, limit: int) -> list[GatewayOnlineEvent]:
        """Events with a greater id, oldest first (what a reconnecting SSE client missed)."""
        params = {"instance": instance_id, "after": after, "limit": limit}
        async with self._engine.connect() as conn:
            rows = (await conn.execute(_MISSED, params)).all()
        events = []
        for r in rows:
            payload = json.loads(r.payload) if isinstance(r.payload, str) else dict(r.payload)
            try:
                events.append(GatewayOnlineEvent.model_validate({**payload, "event_id": r.id}))
            except ValueError:  # the relay sets such a row aside: it never became an event either
                log.debug("outbox row not replayable", extra={"outbox_id": r.id})
        return events
