"""Replies of the event log. The page's event feed depends on these shapes: change them together."""

from __future__ import annotations

from datetime import datetime

import msgspec

from vosync.api.domain.gateways.schemas import GatewayTypeName


class EventItem(msgspec.Struct):
    id: str  # the event id: the outbox id, the Nats-Msg-Id on GATEWAY_EVENTS, the SSE `id:`
    instance_id: int
    gateway_type: GatewayTypeName
    name: str
    is_online: bool
    previous: bool | None
    changed_at: datetime


class EventPage(msgspec.Struct):
    items: list[EventItem]  # newest first
    next: str | None  # pass as `before` for the next (older) page; null: no more
