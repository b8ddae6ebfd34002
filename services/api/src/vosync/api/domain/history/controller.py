"""GET /instances/{id}/gateway-history/{type}/{name}: one gateway's transitions, uptime and samples."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter

from vosync.api.domain.gateways.schemas import GatewayTypeName
from vosync.api.domain.history.schemas import GatewayHistory
from vosync.api.domain.history.service import HistoryService
from vosync.api.domain.history.window import window
from vosync.api.lib.auth import READ
from vosync.api.lib.directory import InstanceInfo
from vosync.api.lib.openapi import error_responses
from vosync.api.lib.validate import check_text

_TIME = "ISO 8601 (no zone: UTC) or epoch seconds"


class HistoryController(Controller):
    path = "/"
    tags = ["history"]  # noqa: RUF012
    opt = READ

    @get(
        "/instances/{instance_id:int}/gateway-history/{gateway_type:str}/{gateway_name:path}",
        summary="One gateway's history: transitions, uptime, flaps, samples",
        description=(
            "`transitions` in [since, until], newest first (`event_id` is the SSE/event-log id);"
            " `uptime` the online fraction of the observed time in the last 1 h / 24 h / 7 d (null:"
            " nothing observed), `flaps_24h` the transitions in the last 24 h; `samples` oldest first:"
            " per minute for windows up to 2 days (`resolution: minute`), hourly averages with `min`"
            " and `max` beyond (`resolution: hour`). `until` defaults to now, `since` to 24 h before"
            " `until`; at most 400 days. The name is the rest of the path (names may contain '/')."
        ),
        operation_id="getGatewayHistory",
        responses=error_responses(400, 401, 404),
    )
    async def gateway_history(
        self,
        history: NamedDependency[HistoryService],
        instance: NamedDependency[InstanceInfo],
        gateway_type: FromPath[GatewayTypeName],
        gateway_name: FromPath[str],
        since: Annotated[str | None, QueryParameter(max_length=64, description=_TIME)] = None,
        until: Annotated[str | None, QueryParameter(max_length=64, description=_TIME)] = None,
    ) -> GatewayHistory:
        gateway_name = gateway_name.removeprefix("/")
        check_text(gateway_name, "gateway name")
        now = datetime.now(UTC)
        start, end = window(since, until, now)
        found = await history.gateway(instance, gateway_type, gateway_name, start, end, now)
        if found is None:
            raise NotFoundException(
                detail=f"no {gateway_type} gateway {gateway_name!r} on instance {instance.id}"
            )
        return found
