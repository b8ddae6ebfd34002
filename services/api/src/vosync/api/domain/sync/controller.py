"""POST /instances/{id}/sync."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import Body
from litestar.status_codes import HTTP_200_OK

from vosync.api.domain.sync.schemas import SyncReply, SyncRequest
from vosync.api.domain.sync.service import SyncService
from vosync.api.lib.auth import ADMIN
from vosync.api.lib.directory import InstanceInfo
from vosync.api.lib.openapi import RateLimitedOperation, error_responses


class SyncController(Controller):
    path = "/instances/{instance_id:int}/sync"
    tags = ["sync"]  # noqa: RUF012
    opt = ADMIN

    @post(
        "/",
        status_code=HTTP_200_OK,
        summary="Fetch from VOS now (admin)",
        description=(
            "Asks the pollers to fetch each API (default: the scheduled ones) now, in parallel, and"
            " reports each outcome. error_kind is a VOS failure kind (timeout, connect, http_status,"
            " bad_json, empty_body, ret_code, too_large) or unavailable (no poller answered) / refused"
            " (a poller would not fetch it)."
        ),
        operation_id="syncInstance",
        responses=error_responses(400, 401, 403, 404, 429),
        operation_class=RateLimitedOperation,
    )
    async def sync_now(
        self,
        sync: NamedDependency[SyncService],
        instance: NamedDependency[InstanceInfo],
        data: Annotated[SyncRequest | None, Body(description="optional API names")] = None,
    ) -> SyncReply:
        specs = sync.specs(data.apis if data is not None else None)
        return await sync.sync(instance, specs)
