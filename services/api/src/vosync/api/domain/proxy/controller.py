"""POST /api/v1/vos-api/instances/{id}/{ApiName}: the cached VOS proxy."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.openapi.spec import Example
from litestar.params import Body, FromPath, PathParameter, QueryParameter
from litestar.status_codes import HTTP_200_OK

from vosync.api.domain.proxy.reply import proxy_reply
from vosync.api.domain.proxy.schemas import ProxyReply
from vosync.api.domain.proxy.service import ProxyService
from vosync.api.lib.auth import READ, sees_secrets
from vosync.api.lib.errors import error_response
from vosync.api.lib.openapi import RateLimitedOperation, error_responses
from vosync.shared.catalogue import known_api_names

_DESCRIPTION = """
The reply of a read-only VOS API for the given request body (the VOS request params; empty body =
`{}`), from vosync's cache when fresh (`data_source: "database"`), otherwise fetched now through the
pollers (`"vos_api"`). If that fetch fails but an earlier good reply is stored, it is served with
`data_source: "stale"`, `success: true` and the failure in `error`. Within the API's
stale-while-revalidate window after `expires_at` (setting `VOSYNC_API_STALE_WHILE_REVALIDATE_S`,
default the API's poll interval) the stored reply is served at once with `data_source: "database"`,
`revalidating: true` and an `Age` header while one background fetch refreshes it; `refresh=true`
always fetches and waits.

Every reply carries a weak `ETag` (the data as this caller sees it, and when VOS gave it); a request
with a matching `If-None-Match` gets 304 without a body. Replies of 1 KB and more are sent gzip-
compressed (`Content-Encoding: gzip`) when `Accept-Encoding` allows it, compressed once per change.
Concurrent requests for the same key share one fetch. Secrets (`password`, `customerPassword`, any
key ending in `password`) are masked unless the caller has the admin role.

Errors: unknown instance or API 404; write API 403; body not a JSON object or too large 400;
VOS error with nothing cached 502; pollers unreachable with nothing cached 503.
"""


class ProxyController(Controller):
    path = "/vos-api/instances"
    tags = ["proxy"]  # noqa: RUF012 (Litestar layer attribute)
    opt = READ

    @post(
        "/{instance_id:int}/{api_name:str}",
        status_code=HTTP_200_OK,
        summary="Cached VOS API call",
        description=_DESCRIPTION,
        operation_id="proxyVosApi",
        responses=error_responses(400, 401, 403, 404, 429, 502, 503),
        operation_class=RateLimitedOperation,
    )
    async def call(
        self,
        request: Request[Any, Any, Any],
        proxy: NamedDependency[ProxyService],
        instance_id: FromPath[int],
        api_name: Annotated[
            str,
            PathParameter(
                description="a read-only VOS API (write APIs are refused with 403)",
                schema_extra={"enum": sorted(known_api_names())},
            ),
        ],
        refresh: Annotated[
            bool, QueryParameter(description="fetch from VOS now, even when the cached reply is fresh")
        ] = False,
        data: Annotated[
            dict[str, Any] | None,
            Body(
                title="VOS request params",
                description="The JSON object VOS expects for this API; empty means {}",
                examples=[Example(summary="all gateways", value={}), Example(value={"names": ["gw-1"]})],
            ),
        ] = None,
    ) -> Response[ProxyReply]:
        info, resolved = await proxy.read(instance_id, api_name, data or {}, refresh)
        if resolved.reply is None:
            return error_response(resolved.status, resolved.error or "fetch failed", resolved.extra)
        proxy.count_reply(resolved.source)
        return proxy_reply(
            info,
            resolved.reply,
            source=resolved.source,
            error=resolved.error,
            revalidating=resolved.revalidating,
            unmasked=sees_secrets(request),
            if_none_match=request.headers.get("if-none-match"),
            accept_encoding=request.headers.get("accept-encoding"),
            now=datetime.now(UTC),
        ).response()
