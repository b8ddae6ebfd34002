"""GET /api/v1/events/gateway-online and /phone-online: GatewayOnlineEvents and PhoneOnlineEvents
as Server-Sent Events (gateway events resumable with Last-Event-ID); GET /api/v1/events: the paged
event log."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.params import QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from vosync.api.domain.events.log import EventLog
from vosync.api.domain.events.schemas import EventPage
from vosync.api.domain.events.service import PHONE_EVENTS, EventClient, EventHub, OutboundEvent
from vosync.api.lib.auth import API_KEY_QUERY, QUERY_KEY_OPT, READ, ApiKeyInQuery
from vosync.api.lib.openapi import error_responses
from vosync.api.lib.sse import connected, keepalive_seconds, live
from vosync.api.lib.timeparse import parse_time
from vosync.api.lib.validate import MAX_DB_INT
from vosync.shared.messages import GatewayOnlineEvent

EVENT_NAME = "gateway.online"
RESYNC_EVENT = "gateway.resync"
REPLAY_MAX = 10_000  # a client further behind is told to reload (RESYNC_EVENT) instead
MAX_EVENT_ID = 2**63 - 1
# The filter of both SSE streams (the event log's own has no description).
OneInstanceOnly = Annotated[
    int | None, QueryParameter(ge=1, le=MAX_DB_INT, description="only this instance's events")
]


def _event_id(value: str | None, what: str) -> int | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not text.isascii() or not text.isdigit() or int(text) > MAX_EVENT_ID:
        raise ClientException(detail=f"{what} must be an event id (digits), not {text[:40]!r}")
    return int(text)


@dataclass(frozen=True, slots=True)
class _Resume:
    after: int  # the client's Last-Event-ID
    missed: list[GatewayOnlineEvent]  # committed since, oldest first
    overflow: bool  # more than REPLAY_MAX: the client must reload


def _live_message(
    resume: _Resume | None, replayed: set[int], item: OutboundEvent
) -> ServerSentEventMessage | None:
    if (
        resume is not None
        and item.event_id is not None
        and (item.event_id <= resume.after or item.event_id in replayed)
    ):
        return None  # replayed, or at or below Last-Event-ID
    return ServerSentEventMessage(
        event=item.name, data=item.json, id=str(item.event_id) if item.event_id is not None else None
    )


async def _stream(
    hub: EventHub, client: EventClient, keepalive_s: float, resume: _Resume | None = None
) -> AsyncIterator[ServerSentEventMessage]:
    try:
        # First bytes at once: the client knows the subscription is live from here on.
        yield connected()
        # The client was subscribed before the missed events were read: an event committed after
        # that read arrives live, one before it is replayed here; the ids replayed (and any at or
        # below Last-Event-ID) are skipped live. Ids are not in commit order across writers, so the
        # check is by set, not by "greater than the last replayed".
        replayed: set[int] = set()
        if resume is not None:
            for event in resume.missed:
                assert event.event_id is not None
                replayed.add(event.event_id)
                yield ServerSentEventMessage(
                    event=EVENT_NAME, data=event.model_dump_json(), id=str(event.event_id)
                )
            if resume.overflow:
                yield ServerSentEventMessage(
                    event=RESYNC_EVENT, data=f'{{"reason": "more than {REPLAY_MAX} events missed"}}'
                )
        async for message in live(
            client.queue.get, functools.partial(_live_message, resume, replayed), keepalive_s
        ):
            yield message
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
        responses=error_responses(400, 401),
        media_type="text/event-stream",
    )
    async def gateway_online(
        self,
        request: Request[Any, Any, Any],
        events: NamedDependency[EventHub],
        event_log: NamedDependency[EventLog],
        instance_id: OneInstanceOnly = None,
        api_key: ApiKeyInQuery = None,
        last_event_id: Annotated[
            str | None,
            QueryParameter(max_length=32, description="resume after this event id (as Last-Event-ID)"),
        ] = None,
    ) -> ServerSentEvent:
        after = _event_id(request.headers.get("last-event-id"), "Last-Event-ID")
        if after is None:
            after = _event_id(last_event_id, "last_event_id")
        client = events.subscribe(instance_id)
        resume = None
        if after is not None:
            try:
                missed = await event_log.missed(instance_id, after, REPLAY_MAX + 1)
            except BaseException:
                events.unsubscribe(client)
                raise
            resume = _Resume(after, missed[:REPLAY_MAX], len(missed) > REPLAY_MAX)
        return ServerSentEvent(_stream(events, client, keepalive_seconds(request), resume))

    @get(
        "/",
        summary="The event log: gateway transitions, newest first, paged",
        description=(
            "From the transitions history (kept 90 days by default; empty with history off), the same"
            " ids as the SSE stream and GATEWAY_EVENTS. `since`: ISO 8601 or epoch seconds; `before`:"
            " the `next` of the previous page."
        ),
        operation_id="listEvents",
        responses=error_responses(400, 401),
    )
    async def list_events(
        self,
        event_log: NamedDependency[EventLog],
        instance_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_DB_INT)] = None,
        since: Annotated[
            str | None, QueryParameter(max_length=64, description="ISO 8601 or epoch seconds")
        ] = None,
        before: Annotated[
            str | None, QueryParameter(max_length=32, description="an event id: older events only")
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> EventPage:
        return await event_log.page(
            instance_id, parse_time(since, "since"), _event_id(before, "before"), limit
        )

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
        instance_id: OneInstanceOnly = None,
        api_key: ApiKeyInQuery = None,
    ) -> ServerSentEvent:
        client = events.subscribe(instance_id, PHONE_EVENTS)
        return ServerSentEvent(_stream(events, client, keepalive_seconds(request), None))
