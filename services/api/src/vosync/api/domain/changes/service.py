"""The writer's `vos.cache.changed.<inst>` notes, passed on to pages as "reload what you show" hints.

A page shows one page of gateways; it does not need each changed figure, only to know that the rows
it shows may have changed. So a client holds no queue: pending notes of its instance merge into one
set of API names, and the stream sends that set when the client is ready. A slow client therefore
costs one set, never a backlog, and is never dropped.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from vosync.shared.cache_key import cache_key
from vosync.shared.catalogue import Catalogue
from vosync.shared.messages import CacheChanged

# The APIs behind the gateways tables; their scheduled polls are keyed with no params.
GATEWAY_APIS = (
    "GetGatewayMapping",
    "GetGatewayMappingOnline",
    "GetGatewayRouting",
    "GetGatewayRoutingOnline",
)


@dataclass(eq=False)
class ChangeClient:
    instance_id: int
    changed: set[str] = field(default_factory=set)  # API names whose data changed
    synced: set[str] = field(default_factory=set)  # API names fetched again, data unchanged
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False

    def take(self) -> tuple[list[str], list[str]]:
        """The pending notes (and none pending after)."""
        changed, synced = sorted(self.changed), sorted(self.synced - self.changed)
        self.changed.clear()
        self.synced.clear()
        self.wake.clear()
        return changed, synced


class ChangeHub:
    def __init__(self, catalogue: Catalogue) -> None:
        self._clients: set[ChangeClient] = set()
        self._api_of_key = {cache_key(catalogue.spec(name).path, {}): name for name in GATEWAY_APIS}

    @property
    def client_count(self) -> int:
        return len(self._clients)

    def subscribe(self, instance_id: int) -> ChangeClient:
        client = ChangeClient(instance_id)
        self._clients.add(client)
        return client

    def unsubscribe(self, client: ChangeClient) -> None:
        self._clients.discard(client)

    def publish(self, note: CacheChanged) -> None:
        changed = {self._api_of_key[k] for k in note.cache_keys if k in self._api_of_key}
        synced = {self._api_of_key[k] for k in note.synced_keys if k in self._api_of_key}
        if not changed and not synced:
            return  # other APIs' data: nothing a gateway page shows
        for client in self._clients:
            if client.instance_id == note.instance_id:
                client.changed |= changed
                client.synced |= synced
                client.wake.set()

    def close_all(self) -> None:
        for client in list(self._clients):
            client.closed = True
            client.wake.set()
        self._clients.clear()
