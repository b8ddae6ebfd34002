"""Gateway replies. The gateway page depends on these shapes exactly: change them together."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

GatewayTypeName = Literal["mapping", "routing"]
GatewaySort = Literal[
    "name",
    "-name",
    "asr",
    "-asr",
    "acd",
    "-acd",
    "concurrent_calls",
    "-concurrent_calls",
    "is_online",
    "-is_online",
    "ip_address",
    "-ip_address",
    "uptime_24h",
    "-uptime_24h",
    "flaps_24h",
    "-flaps_24h",
]


class OnlineCounts(msgspec.Struct):
    total: int
    online: int
    offline: int


class TypeCounts(msgspec.Struct):
    mapping: OnlineCounts
    routing: OnlineCounts


class GatewayItem(msgspec.Struct):
    gateway_type: GatewayTypeName
    gateway_name: str
    ip_address: str | None
    # 'config' or 'online' (a dynamic gateway's registered address, not in its config); null: none
    ip_source: Literal["config", "online"] | None
    remote_ips: list[str] | None
    port: int | None
    protocol: str | None
    is_online: bool
    asr: float | None
    acd: float | None
    concurrent_calls: int | None
    capacity: int | None
    prefix: str | None
    register_type: int | None
    in_config: bool
    online_changed_at: datetime | None
    synced_at: datetime | None
    online_synced_at: datetime | None
    # Online fraction of the observed part of the last 24 h (null: status never reported) and the
    # transitions in it, from the history; up to list_cache.MAX_AGE_S old.
    uptime_24h: float | None
    flaps_24h: int


class GatewayList(msgspec.Struct):
    instance_id: int
    instance_name: str
    total: int
    limit: int
    offset: int
    counts: TypeCounts
    synced_at: datetime | None
    online_synced_at: datetime | None
    age_s: float | None
    items: list[GatewayItem]


class GatewayDetail(GatewayItem):
    instance_id: int
    instance_name: str
    lock_type: int | None
    raw_data: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class InstanceGatewaySummary(msgspec.Struct):
    instance_id: int
    instance_name: str
    enabled: bool
    mapping: OnlineCounts
    routing: OnlineCounts
    total: OnlineCounts


class InstanceTotals(msgspec.Struct):
    mapping: OnlineCounts
    routing: OnlineCounts
    total: OnlineCounts


class GatewaySummary(msgspec.Struct):
    instances: list[InstanceGatewaySummary]
    totals: InstanceTotals
