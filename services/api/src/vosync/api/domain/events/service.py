"""The bridge from `gateway.online.>` and `phone.online.>` (core NATS, no queue group: every replica
sees every event) to SSE clients; a client hears one of the two channels. Each client has a bounded
queue; one that falls behind is dropped, never waited for."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from faststream.message import StreamMessage
from faststream.nats import NatsBroker

from vosync.api.lib.metrics import ApiMetrics
from vosync.shared import channels
from vosync.shared.messages import GatewayOnlineEvent, PhoneOnlineEvent

log = logging.getLogger(__name__)

CLIENT_QUEUE_SIZE = 1024
E = TypeVar("E", GatewayOnlineEvent, PhoneOnlineEvent)
GATEWAY_EVENTS = channels.GATEWAY_ONLINE.name
PHONE_EVENTS = channels.PHONE_ONLINE.name


@dataclass(frozen=True, slots=True)
class OutboundEvent:
    instance_id: int
    event_id: int | None
    json: str
    name: str = GATEWAY_EVENTS  # the SSE event name: the channel's


@dataclass(eq=False)
class EventClient:
    instance_id: int | None
    channel: str = GATEWAY_EVENTS
    queue: asyncio.Queue[OutboundEvent | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=CLIENT_QUEUE_SIZE)
    )
    dropped: bool = False


def _listen(
    broker: NatsBroker,
    channel: channels.Channel[E],
    decoder: Callable[[StreamMessage[Any]], Awaitable[E | None]],
    handler: Callable[[E | None], Awaitable[None]],
) -> None:
    """One channel's events from `broker` to `handler`, with room for a burst of them."""
    broker.subscriber(
        channel.stream_subject,
        decoder=decoder,
        no_reply=True,
        pending_msgs_limit=100_000,
        pending_bytes_limit=256 * 1024**2,
    )(handler)


class EventHub:
    def __init__(self, metrics: ApiMetrics) -> None:
        self._metrics = metrics
        self._clients: set[EventClient] = set()
        metrics.sse_clients = lambda: len(self._clients)
        self._bad_events = 0

    @property
    def client_count(self) -> int:
        return len(self._clients)

    def declare(self, broker: NatsBroker) -> None:
        """Subscribe to every gateway and phone event on `broker` (before it starts; it stops with it).

        `no_reply`: the events are JetStream publishes, so they carry the publisher's PubAck inbox as
        reply subject; FastStream would answer it with the handler's (empty) result, a publish the
        api's NATS user may not make."""
        _listen(broker, channels.GATEWAY_ONLINE, self._decode, self._on_event)
        _listen(broker, channels.PHONE_ONLINE, self._decode_phone, self._on_phone_event)

    async def stop(self) -> None:
        self.close_all()

    def subscribe(self, instance_id: int | None, channel: str = GATEWAY_EVENTS) -> EventClient:
        client = EventClient(instance_id, channel)
        self._clients.add(client)
        return client

    def unsubscribe(self, client: EventClient) -> None:
        self._clients.discard(client)

    def close_all(self) -> None:
        """End every stream (shutdown): each client gets the end marker."""
        for client in list(self._clients):
            self._end(client)

    def publish(self, event: GatewayOnlineEvent | PhoneOnlineEvent) -> None:
        name = PHONE_EVENTS if isinstance(event, PhoneOnlineEvent) else GATEWAY_EVENTS
        outbound = OutboundEvent(event.instance_id, event.event_id, event.model_dump_json(), name)
        for client in list(self._clients):
            if client.channel != name:
                continue
            if client.instance_id is not None and client.instance_id != event.instance_id:
                continue
            try:
                client.queue.put_nowait(outbound)
            except asyncio.QueueFull:
                log.warning("sse client dropped: too slow", extra={"queued": client.queue.qsize()})
                self._metrics.sse_dropped += 1
                client.dropped = True
                self._end(client)

    async def _decode(self, msg: StreamMessage[Any]) -> GatewayOnlineEvent | None:
        return await self._decoded(channels.GATEWAY_ONLINE, msg)

    async def _decode_phone(self, msg: StreamMessage[Any]) -> PhoneOnlineEvent | None:
        return await self._decoded(channels.PHONE_ONLINE, msg)

    async def _decoded(self, channel: channels.Channel[E], msg: StreamMessage[Any]) -> E | None:
        """The channel's decoder; an undecodable event is logged and dropped (None), never raised."""
        try:
            return await channel.decoder(msg)
        except channels.UndecodableMessage as exc:
            self._bad_events += 1
            if self._bad_events == 1 or self._bad_events % 1000 == 0:
                subject = getattr(msg.raw_message, "subject", "")
                log.warning(
                    "undecodable event",
                    extra={"channel": channel.name, "subject": subject, "error": str(exc)[:200]},
                )
            return None

    async def _on_event(self, event: GatewayOnlineEvent | None) -> None:
        if event is not None:
            self.publish(event)

    async def _on_phone_event(self, event: PhoneOnlineEvent | None) -> None:
        if event is not None:
            self.publish(event)

    def _end(self, client: EventClient) -> None:
        self.unsubscribe(client)
        while True:
            try:
                client.queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                client.queue.get_nowait()  # make room: the client is leaving anyway
