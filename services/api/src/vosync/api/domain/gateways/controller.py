"""Gateways of an instance (list with filters, one gateway) and a summary across instances."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter

from vosync.api.domain.gateways.reply import list_reply
from vosync.api.domain.gateways.schemas import (
    GatewayDetail,
    GatewayList,
    GatewaySort,
    GatewaySummary,
    GatewayTypeName,
)
from vosync.api.domain.gateways.service import GatewayService
from vosync.api.lib.auth import READ, sees_secrets
from vosync.api.lib.openapi import error_responses
from vosync.api.lib.validate import MAX_DB_INT, check_text


class GatewayController(Controller):
    path = "/"
    tags = ["gateways"]  # noqa: RUF012
    opt = READ

    @get(
        "/instances/{instance_id:int}/gateways",
        summary="Gateways of an instance",
        description=(
            "From the gateways table: `total` counts the rows matching the filters, `counts` the whole"
            " instance per type (no filters). `synced_at` is the newest config sync, `online_synced_at`"
            " the newest online-status sync, `age_s` the seconds since it. Served from the api's memory"
            " until the instance's table changes; a weak `ETag` (304 on `If-None-Match`) and gzip when"
            " `Accept-Encoding` allows it."
        ),
        operation_id="listGateways",
        responses=error_responses(400, 401, 404),
    )
    async def list_gateways(
        self,
        request: Request[Any, Any, Any],
        gateways: NamedDependency[GatewayService],
        instance_id: FromPath[int],
        gateway_type: Annotated[
            GatewayTypeName | None, QueryParameter(name="type", description="mapping or routing")
        ] = None,
        online: Annotated[
            bool | None, QueryParameter(description="true: online only; false: offline only")
        ] = None,
        q: Annotated[
            str | None,
            QueryParameter(max_length=200, description="case-insensitive substring of the name or an IP"),
        ] = None,
        sort: Annotated[GatewaySort, QueryParameter(description="a column, '-' for descending")] = "name",
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        offset: Annotated[int, QueryParameter(ge=0, le=MAX_DB_INT)] = 0,
    ) -> Response[GatewayList]:
        instance = await gateways.instance(instance_id)
        if q is not None:
            check_text(q, "q")
        cached = await gateways.list_cached(
            instance, gateway_type=gateway_type, online=online, q=q, sort=sort, limit=limit, offset=offset
        )
        return list_reply(
            cached, request.headers.get("if-none-match"), request.headers.get("accept-encoding")
        ).response()

    @get(
        "/instances/{instance_id:int}/gateways/{gateway_type:str}/{gateway_name:path}",
        summary="One gateway",
        description="With raw_data (config and online replies merged); secrets masked unless admin. "
        "The name is the rest of the path, so names containing '/' work.",
        operation_id="getGateway",
        responses=error_responses(400, 401, 404),
    )
    async def get_gateway(
        self,
        request: Request[Any, Any, Any],
        gateways: NamedDependency[GatewayService],
        instance_id: FromPath[int],
        gateway_type: FromPath[GatewayTypeName],
        gateway_name: FromPath[str],
    ) -> GatewayDetail:
        instance = await gateways.instance(instance_id)
        # A path parameter: VOS gateway names may contain '/' (sent as %2F or plainly).
        gateway_name = gateway_name.removeprefix("/")
        check_text(gateway_name, "gateway name")
        detail = await gateways.get(instance, gateway_type, gateway_name, unmasked=sees_secrets(request))
        if detail is None:
            raise NotFoundException(
                detail=f"no {gateway_type} gateway {gateway_name!r} on instance {instance_id}"
            )
        return detail

    @get(
        "/gateways/summary",
        summary="Gateway counts per instance and type",
        operation_id="gatewaySummary",
        responses=error_responses(401),
    )
    async def summary(self, gateways: NamedDependency[GatewayService]) -> GatewaySummary:
        return await gateways.summary()
