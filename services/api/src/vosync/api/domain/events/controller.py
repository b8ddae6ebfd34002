"""GET /api/v1/events/gateway-online and /phone-online: GatewayOnlineEvents and PhoneOnlineEvents as
Server-Sent Events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from vosync.api.domain.events.service import PHONE_EVENTS, EventClient, EventHub
from vosync.api.lib.auth import API_KEY_QUERY, QUERY_KEY_OPT, READ
from vosync.api.lib.openapi import error_responses
from vosync.api.lib.validate import MAX_DB_INT

RETRY_MS = 3000


async def _stream(
    hub: EventHub, client: EventClient, keepalive_s: float
) -> AsyncIterator[ServerSentEventMessage]:
    try:
        # First bytes at once: the client knows the subscription is live from here on.
        yield ServerSentEventMessage(comment="connected", retry=RETRY_MS, data=None)
        while True:
            try:
                item = await asyncio.wait_for(client.queue.get(), keepalive_s)
            except TimeoutError:
                yield ServerSentEventMessage(comment="keepalive", data=None)
                continue
            if item is None:
                return
            yield ServerSentEventMessage(event=item.name, data=item.json, id=item.event_id)
    finally:
        hub.unsubscribe(client)


class EventController(Controller):
    path = "/events"
    tags = ["events"]  # noqa: RUF012
    opt = READ

    @get(
        "/gateway-online",
        summary="Gateway online/offline transitions (Server-Sent Events)",
        description=(
            "`event: gateway.online`, data = GatewayOnlineEvent JSON, `id` = its event id; a `:keepalive`"
            " comment every ~15 s when idle. EventSource cannot send headers, so this route also accepts"
            f" the key as `?{API_KEY_QUERY}=`. A client that falls far behind is disconnected."
        ),
        operation_id="gatewayOnlineEvents",
        opt={QUERY_KEY_OPT: True},
        responses=error_responses(401),
        media_type="text/event-stream",
    )
    async def gateway_online(
        self,
        request: Request[Any, Any, Any],
        events: NamedDependency[EventHub],
        instance_id: Annotated[
            int | None, QueryParameter(ge=1, le=MAX_DB_INT, description="only this instance's events")
        ] = None,
        api_key: Annotated[
            str | None, QueryParameter(description="the X-API-Key, for clients that cannot send headers")
        ] = None,
    ) -> ServerSentEvent:
        keepalive_s: float = request.app.state.settings.api_sse_keepalive_s
        client = events.subscribe(instance_id)
        return ServerSentEvent(_stream(events, client, keepalive_s))

    @get(
        "/phone-online",
        summary="Phone registrations and drops (Server-Sent Events)",
        description=(
            "`event: phone.online`, data = PhoneOnlineEvent JSON, `id` = its event id; keepalives, the"
            f" `?{API_KEY_QUERY}=` key and slow clients as for /gateway-online."
        ),
        operation_id="phoneOnlineEvents",
        opt={QUERY_KEY_OPT: True},
        responses=error_responses(401),
        media_type="text/event-stream",
    )
    async def phone_online(
        self,
        request: Request[Any, Any, Any],
        events: NamedDependency[EventHub],
        instance_id: Annotated[
            int | None, QueryParameter(ge=1, le=MAX_DB_INT, description="only this instance's events")
        ] = None,
        api_key: Annotated[
            str | None, QueryParameter(description="the X-API-Key, for clients that cannot send headers")
        ] = None,
    ) -> ServerSentEvent:
        keepalive_s: float = request.app.state.settings.api_sse_keepalive_s
        client = events.subscribe(instance_id, PHONE_EVENTS)
        return ServerSentEvent(_stream(events, client, keepalive_s))
