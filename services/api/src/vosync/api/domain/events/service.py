"""The bridge from `gateway.online.>` (core NATS, no queue group: every replica sees every event) to
SSE clients. Each client has a bounded queue; one that falls behind is dropped, never waited for."""

from __future__ import annotations

import asyncio
import logging
import zlib
from dataclasses import dataclass, field

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError

from vosync.api.lib.metrics import ApiMetrics
from vosync.shared import bus
from vosync.shared.codec import decode
from vosync.shared.messages import GatewayOnlineEvent

log = logging.getLogger(__name__)

CLIENT_QUEUE_SIZE = 1024


@dataclass(frozen=True, slots=True)
class OutboundEvent:
    instance_id: int
    event_id: int | None
    json: str


@dataclass(eq=False)
class EventClient:
    instance_id: int | None
    queue: asyncio.Queue[OutboundEvent | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=CLIENT_QUEUE_SIZE)
    )
    dropped: bool = False


class EventHub:
    def __init__(self, metrics: ApiMetrics) -> None:
        self._metrics = metrics
        self._clients: set[EventClient] = set()
        metrics.sse_clients = lambda: len(self._clients)
        self._sub: Subscription | None = None
        self._bad_events = 0

    @property
    def client_count(self) -> int:
        return len(self._clients)

    async def start(self, nc: NatsClient) -> None:
        self._sub = await nc.subscribe(
            bus.EVENT_SUBJECTS,
            cb=self._on_message,
            pending_msgs_limit=100_000,
            pending_bytes_limit=256 * 1024**2,
        )

    async def stop(self) -> None:
        self.close_all()
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception as exc:  # the connection may already be closed
                log.debug("event unsubscribe failed", extra={"error": repr(exc)})
            self._sub = None

    def subscribe(self, instance_id: int | None) -> EventClient:
        client = EventClient(instance_id)
        self._clients.add(client)
        return client

    def unsubscribe(self, client: EventClient) -> None:
        self._clients.discard(client)

    def close_all(self) -> None:
        """End every stream (shutdown): each client gets the end marker."""
        for client in list(self._clients):
            self._end(client)

    def publish(self, event: GatewayOnlineEvent) -> None:
        outbound = OutboundEvent(event.instance_id, event.event_id, event.model_dump_json())
        for client in list(self._clients):
            if client.instance_id is not None and client.instance_id != event.instance_id:
                continue
            try:
                client.queue.put_nowait(outbound)
            except asyncio.QueueFull:
                log.warning("sse client dropped: too slow", extra={"queued": client.queue.qsize()})
                self._metrics.sse_dropped += 1
                client.dropped = True
                self._end(client)

    async def _on_message(self, msg: Msg) -> None:
        try:
            event = decode(GatewayOnlineEvent, msg.data, msg.headers)
        except (ValidationError, ValueError, zlib.error) as exc:
            self._bad_events += 1
            if self._bad_events == 1 or self._bad_events % 1000 == 0:
                log.warning(
                    "undecodable gateway event", extra={"subject": msg.subject, "error": str(exc)[:200]}
                )
            return
        self.publish(event)

    def _end(self, client: EventClient) -> None:
        self.unsubscribe(client)
        while True:
            try:
                client.queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                client.queue.get_nowait()  # make room: the client is leaving anyway
