"""VOS gateway replies → rows for the `gateways` table, from the real field names (reference §3.1–3.4).

Config (GetGatewayMapping `infoGatewayMappings`, GetGatewayRouting `infoGatewayRoutings`):
  mapping: `remoteIps` (CSV) → remote_ips, first IP → ip_address; `capacity`, `registerType`,
           `lockType`. A mapping gateway has no port or protocol in VOS.
  routing: `remoteIp` → ip_address and remote_ips; `signalPort` → port; `protocol` 0/1 → H323/SIP;
           `prefix` (CSV, kept as text); `capacity`, `registerType`, `lockType`.
Online (GetGatewayMappingOnline `infoGatewayMappingOnlines`, GetGatewayRoutingOnline
`infoGatewayRoutingOnlines`): a listed gateway is online; `currentCall` → concurrent_calls, `asr`,
`acd`, plus its address and capacity (used while the gateway is absent from config).

Bad data never raises: a missing or non-list list key makes the snapshot unusable (nothing is
projected from it), items that are not objects or have no usable name are skipped, unreadable values
become None; all of it is counted in `problems`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from vosync.shared.catalogue import GatewayType
from vosync.writer.jsontext import pg_json
from vosync.writer.reply_lists import keyed_rows, reply_list
from vosync.writer.vos_items import (
    Item,
    Problems,
    as_float,
    as_int,
    as_ip_list,
    as_name,
    as_protocol,
    as_text,
)

NAME_MAX = 255
IP_MAX = 64


@dataclass(frozen=True, slots=True)
class ConfigRow:
    name: str
    ordinal: int  # 1-based position in the reply's list: PostgreSQL takes the raw item from there
    ip_address: str | None
    remote_ips: list[str] | None
    port: int | None
    protocol: str | None
    prefix: str | None
    capacity: int | None
    register_type: int | None
    lock_type: int | None


@dataclass(frozen=True, slots=True)
class OnlineRow:
    name: str
    concurrent_calls: int | None
    asr: float | None
    acd: float | None
    ip_address: str | None
    remote_ips: list[str] | None
    capacity: int | None
    item: Mapping[str, Any]  # the raw item, kept in online_data
    ordinal: int  # 1-based position in the reply's list: PostgreSQL takes the raw item from there

    @property
    def item_json(self) -> str:
        """The raw item as JSON, for when its reply is no longer the one stored (rare: not per row)."""
        return pg_json(self.item)


RowT = TypeVar("RowT", ConfigRow, OnlineRow)


@dataclass(slots=True)
class Snapshot(Generic[RowT]):
    """The rows of one reply, one per gateway name (the last item wins), sorted by name."""

    list_key: str | None
    rows: list[RowT] = field(default_factory=list)
    problems: Problems = field(default_factory=Problems)

    @property
    def usable(self) -> bool:
        return self.list_key is not None


def _name(item: Item, problems: Problems) -> str | None:
    return as_name(item.get("name"), problems, NAME_MAX)


def _first_ip(ips: list[str] | None, problems: Problems) -> str | None:
    if not ips:
        return None
    if len(ips[0]) > IP_MAX:
        problems.note("too_long:ip")
        return None
    return ips[0]


def _snapshot(
    response: dict[str, Any] | None, list_key: str, build: Callable[[int, str, Item, Problems], RowT]
) -> Snapshot[RowT]:
    problems = Problems()
    found = reply_list(response, list_key, problems)
    if found is None:
        return Snapshot(None, [], problems)
    key, items = found
    return Snapshot(key, keyed_rows(items, problems, "name", _name, build), problems)


def parse_config(response: dict[str, Any] | None, list_key: str, kind: GatewayType) -> Snapshot[ConfigRow]:
    def config_row(ordinal: int, name: str, item: Item, problems: Problems) -> ConfigRow:
        if kind is GatewayType.MAPPING:
            ips = as_ip_list(item.get("remoteIps"), "remoteIps", problems)
            port, protocol, prefix = None, None, None
        else:
            ips = as_ip_list(item.get("remoteIp"), "remoteIp", problems)
            port = as_int(item.get("signalPort"), "signalPort", problems)
            protocol = as_protocol(item.get("protocol"), problems)
            prefix = as_text(item.get("prefix"), "prefix", problems)
        return ConfigRow(
            name=name,
            ordinal=ordinal,
            ip_address=_first_ip(ips, problems),
            remote_ips=ips,
            port=port,
            protocol=protocol,
            prefix=prefix,
            capacity=as_int(item.get("capacity"), "capacity", problems),
            register_type=as_int(item.get("registerType"), "registerType", problems),
            lock_type=as_int(item.get("lockType"), "lockType", problems),
        )

    return _snapshot(response, list_key, config_row)


def parse_online(response: dict[str, Any] | None, list_key: str, kind: GatewayType) -> Snapshot[OnlineRow]:
    ip_field = "remoteIps" if kind is GatewayType.MAPPING else "remoteIp"

    def online_row(ordinal: int, name: str, item: Item, problems: Problems) -> OnlineRow:
        ips = as_ip_list(item.get(ip_field), ip_field, problems)
        return OnlineRow(
            name=name,
            concurrent_calls=as_int(item.get("currentCall"), "currentCall", problems),
            asr=as_float(item.get("asr"), "asr", problems),
            acd=as_float(item.get("acd"), "acd", problems),
            ip_address=_first_ip(ips, problems),
            remote_ips=ips,
            capacity=as_int(item.get("capacity"), "capacity", problems),
            item=item.raw,
            ordinal=ordinal,
        )

    return _snapshot(response, list_key, online_row)
