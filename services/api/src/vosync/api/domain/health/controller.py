"""GET /health/live, /health/ready and /metrics (no prefix, no auth)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_503_SERVICE_UNAVAILABLE

from vosync.api.domain.health.service import HealthService
from vosync.api.lib.jsonutil import dumps, json_response
from vosync.api.lib.metrics import ApiMetrics


class Liveness(msgspec.Struct):
    status: str


class Readiness(msgspec.Struct):
    """status: ok (all up), degraded (serving without the `degraded` dependencies) or unavailable."""

    status: str
    checks: dict[str, bool]
    degraded: list[str]


class HealthController(Controller):
    path = "/"
    tags = ["operations"]  # noqa: RUF012

    @get("/health/live", summary="The process is up", operation_id="live")
    async def live(self) -> Liveness:
        return Liveness(status="ok")

    @get(
        "/health/ready",
        summary="Can serve (200, status ok or degraded); 503 only when nothing can be served",
        operation_id="ready",
        responses={
            503: ResponseSpec(
                data_container=Readiness, description="both dependencies down and nothing cached"
            )
        },
    )
    async def ready(self, health: NamedDependency[HealthService]) -> Response[Readiness]:
        checks = await health.checks()
        degraded = sorted(name for name, up in checks.items() if not up)
        serving = health.can_serve(checks)
        status = "unavailable" if not serving else "degraded" if degraded else "ok"
        body = Readiness(status=status, checks=checks, degraded=degraded)
        return json_response(dumps(body), 200 if serving else HTTP_503_SERVICE_UNAVAILABLE)

    @get(
        "/metrics",
        summary="Prometheus metrics",
        operation_id="metrics",
        media_type="text/plain",
        include_in_schema=True,
    )
    async def metrics(
        self, request: Request[Any, Any, Any], health: NamedDependency[HealthService]
    ) -> Response[str]:
        metrics: ApiMetrics = request.app.state.metrics
        await health.checks()  # a scrape sees the dependencies as they are now
        return Response(content=metrics.render().decode(), media_type=metrics.content_type)
