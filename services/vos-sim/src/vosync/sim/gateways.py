"""One kind of gateway (mapping or routing) of one instance, with its replies kept as ready bytes.

Each gateway keeps its config and online entry serialised; a change re-serialises only that gateway
and drops the cached full-list reply, so a full 10,000-gateway reply is a join of cached fragments
(and then a cached bytes object until the next change).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from vosync.sim.datagen import MAPPING, ROUTING, InstanceContext, OnlineState, online_item

# (config list key, online list key) of each kind's replies
LIST_KEYS = {
    MAPPING: ("infoGatewayMappings", "infoGatewayMappingOnlines"),
    ROUTING: ("infoGatewayRoutings", "infoGatewayRoutingOnlines"),
}


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, Chinese kept as characters (as VOS sends it)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def list_reply(key: str, fragments: Iterable[bytes]) -> bytes:
    """`{"retCode":0,"<key>":[...]}` from already serialised items."""
    return b'{"retCode":0,"' + key.encode() + b'":[' + b",".join(fragments) + b"]}"


def _online_fragments(gateways: Iterable[Gateway]) -> Iterator[bytes]:
    return (gw.online_json for gw in gateways if gw.online_json is not None)


@dataclass(slots=True)
class Gateway:
    id: int
    config: dict[str, Any]
    online: OnlineState | None
    config_json: bytes
    online_json: bytes | None = None

    @property
    def name(self) -> str:
        name: str = self.config["name"]
        return name

    def truth(self) -> bytes:
        """`{"id", "name", "online", "config": <config item>, "onlineInfo": <online item or null>}`."""
        online = b"true" if self.online_json is not None else b"false"
        return b'{"id":%d,"name":%s,"online":%s,"config":%s,"onlineInfo":%s}' % (
            self.id,
            dumps(self.name),
            online,
            self.config_json,
            self.online_json or b"null",
        )


class GatewayTable:
    """The gateways of one kind in VOS order (by id), and their cached replies."""

    def __init__(self, kind: str, ctx: InstanceContext) -> None:
        self.kind = kind
        self.ctx = ctx
        self.config_key, self.online_key = LIST_KEYS[kind]
        self._by_name: dict[str, Gateway] = {}
        self._next_id = 1
        self._config_reply: bytes | None = None
        self._online_reply: bytes | None = None
        self._online_count = 0

    def __len__(self) -> int:
        return len(self._by_name)

    def __iter__(self) -> Iterator[Gateway]:
        return iter(self._by_name.values())

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    @property
    def online_count(self) -> int:
        return self._online_count

    def get(self, name: str) -> Gateway | None:
        return self._by_name.get(name)

    def add(self, config: dict[str, Any], online: OnlineState | None) -> Gateway:
        gateway = Gateway(self._next_id, config, None, dumps(config))
        self._next_id += 1
        self._by_name[gateway.name] = gateway
        self._config_reply = None
        self.set_online(gateway, online)
        return gateway

    def remove(self, name: str) -> Gateway | None:
        gateway = self._by_name.pop(name, None)
        if gateway is not None:
            self._config_reply = None
            if gateway.online is not None:
                self._online_count -= 1
                self._online_reply = None
        return gateway

    def set_online(self, gateway: Gateway, online: OnlineState | None) -> None:
        """Put a gateway online with these figures (or take it offline with None)."""
        self._online_count += (online is not None) - (gateway.online is not None)
        gateway.online = online
        self.refresh(gateway)

    def refresh(self, gateway: Gateway) -> None:
        """Re-serialise a gateway's online entry after its figures changed."""
        if gateway.online is None:
            gateway.online_json = None
        else:
            item = online_item(self.kind, gateway.id, gateway.config, gateway.online, self.ctx)
            gateway.online_json = dumps(item)
        self._online_reply = None

    def _select(self, names: list[str] | None) -> Iterable[Gateway]:
        # Absent (None) is "all"; `[]` selects nothing, as VOS answers it (an empty list).
        if names is None:
            return self._by_name.values()
        found = {gw.id: gw for name in names if (gw := self._by_name.get(name)) is not None}
        return [found[key] for key in sorted(found)]

    def config_reply(self, names: list[str] | None) -> bytes:
        if names is not None:
            return list_reply(self.config_key, (gw.config_json for gw in self._select(names)))
        if self._config_reply is None:
            self._config_reply = list_reply(self.config_key, (gw.config_json for gw in self))
        return self._config_reply

    def online_reply(self, names: list[str] | None) -> bytes:
        if names is not None:
            return list_reply(self.online_key, _online_fragments(self._select(names)))
        if self._online_reply is None:
            self._online_reply = list_reply(self.online_key, _online_fragments(self))
        return self._online_reply

    def truth(self) -> bytes:
        """The control API's view of every gateway (see `Gateway.truth`), in VOS order."""
        return b"[" + b",".join(gw.truth() for gw in self) + b"]"
