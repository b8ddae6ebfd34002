"""GET, DELETE /instances/{id}/cache."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.status_codes import HTTP_200_OK

from vosync.api.domain.cache.schemas import CacheInvalidated, CacheStatus
from vosync.api.domain.cache.service import CacheService
from vosync.api.lib.auth import ADMIN, READ
from vosync.api.lib.directory import InstanceInfo
from vosync.api.lib.openapi import error_responses
from vosync.api.lib.validate import check_text


class CacheController(Controller):
    path = "/instances/{instance_id:int}/cache"
    tags = ["cache"]  # noqa: RUF012

    @get(
        "/",
        opt=READ,
        summary="Cached VOS replies of an instance",
        description="One item per cached (API, params): freshness and the last error.",
        operation_id="cacheStatus",
        responses=error_responses(401, 404),
    )
    async def cache_status(
        self,
        cache: NamedDependency[CacheService],
        instance: NamedDependency[InstanceInfo],
    ) -> CacheStatus:
        return await cache.status(instance)

    @delete(
        "/",
        opt=ADMIN,
        status_code=HTTP_200_OK,
        summary="Invalidate cached VOS replies (admin)",
        description="Marks the rows invalid, so the next read fetches from VOS; every api replica drops"
        " its in-process copies.",
        operation_id="invalidateCache",
        responses=error_responses(400, 401, 403, 404),
    )
    async def invalidate(
        self,
        cache: NamedDependency[CacheService],
        instance: NamedDependency[InstanceInfo],
        api_path: Annotated[
            str | None,
            QueryParameter(max_length=255, description="only this API (path or name); default: all"),
        ] = None,
    ) -> CacheInvalidated:
        if api_path is not None:
            check_text(api_path, "api_path")
        return await cache.invalidate(instance, api_path)
