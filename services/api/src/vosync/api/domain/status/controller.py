"""GET /api/v1/status."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency

from vosync.api.domain.status.schemas import StatusReply
from vosync.api.domain.status.service import StatusService
from vosync.api.lib.auth import READ
from vosync.api.lib.openapi import error_responses


class StatusController(Controller):
    path = "/status"
    tags = ["operations"]  # noqa: RUF012

    @get(
        "/",
        opt=READ,
        summary="The whole system at a glance (what `vosync status` shows)",
        description=(
            "Each instance: its VOS state (ok, failing since …, backing_off: calls paused after"
            " transport failures, no_data, disabled), from the lease holder's heartbeat and the cache"
            " rows; the age of the last good gateway config and online lists; gateways online/total."
            " The services: this api's readiness, live pollers (heartbeats), and the writers:"
            " consumer lag and unacknowledged results on VOS_RESULTS, and the outbox backlog. What"
            " NATS could not tell is listed in services.problems; without the database, 503."
        ),
        operation_id="status",
        responses=error_responses(401, 503),
    )
    async def status(self, status: NamedDependency[StatusService]) -> StatusReply:
        return await status.status()
