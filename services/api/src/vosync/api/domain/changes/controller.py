"""GET /api/v1/events/gateway-changes: "the gateway rows of this instance changed" hints (SSE)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from vosync.api.domain.changes.service import ChangeClient, ChangeHub
from vosync.api.lib.auth import API_KEY_QUERY, QUERY_KEY_OPT, READ, ApiKeyInQuery
from vosync.api.lib.openapi import error_responses
from vosync.api.lib.sse import connected, keepalive_seconds, live
from vosync.api.lib.validate import MAX_DB_INT

EVENT_NAME = "gateways.changed"


async def _woken(client: ChangeClient) -> ChangeClient | None:
    await client.wake.wait()
    return None if client.closed else client


def _message(client: ChangeClient) -> ServerSentEventMessage:
    changed, synced = client.take()
    data = {"instance_id": client.instance_id, "changed": changed, "synced": synced}
    return ServerSentEventMessage(event=EVENT_NAME, data=json.dumps(data))


async def _stream(
    hub: ChangeHub, client: ChangeClient, keepalive_s: float
) -> AsyncIterator[ServerSentEventMessage]:
    try:
        yield connected()
        async for message in live(lambda: _woken(client), _message, keepalive_s):
            yield message
    finally:
        hub.unsubscribe(client)


class ChangeController(Controller):
    path = "/events"
    tags = ["events"]  # noqa: RUF012
    opt = READ

    @get(
        "/gateway-changes",
        summary="Which gateway APIs of an instance the writer just committed (Server-Sent Events)",
        description=(
            '`event: gateways.changed`, data = `{"instance_id", "changed": [API names whose data'
            ' changed], "synced": [API names fetched again, unchanged]}`: a hint to reload the rows a'
            " page shows (new ASR, ACD, calls), not a record. Notes that arrive while the client is"
            " busy merge into one event. EventSource cannot send headers, so this route also accepts"
            f" the key as `?{API_KEY_QUERY}=`."
        ),
        operation_id="gatewayChangeEvents",
        opt={QUERY_KEY_OPT: True},
        responses=error_responses(400, 401),
        media_type="text/event-stream",
    )
    async def gateway_changes(
        self,
        request: Request[Any, Any, Any],
        changes: NamedDependency[ChangeHub],
        instance_id: Annotated[int, QueryParameter(ge=1, le=MAX_DB_INT, description="the instance")],
        api_key: ApiKeyInQuery = None,
    ) -> ServerSentEvent:
        client = changes.subscribe(instance_id)
        return ServerSentEvent(_stream(changes, client, keepalive_seconds(request)))
