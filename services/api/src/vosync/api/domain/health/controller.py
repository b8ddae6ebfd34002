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
    status: str
    checks: dict[str, bool]


class HealthController(Controller):
    path = "/"
    tags = ["operations"]  # noqa: RUF012

    @get("/health/live", summary="The process is up", operation_id="live")
    async def live(self) -> Liveness:
        return Liveness(status="ok")

    @get(
        "/health/ready",
        summary="Database and NATS reachable",
        operation_id="ready",
        responses={503: ResponseSpec(data_container=Readiness, description="a dependency is unreachable")},
    )
    async def ready(self, health: NamedDependency[HealthService]) -> Response[Readiness]:
        checks = await health.checks()
        ok = all(checks.values())
        body = Readiness(status="ok" if ok else "unavailable", checks=checks)
        return json_response(dumps(body), 200 if ok else HTTP_503_SERVICE_UNAVAILABLE)

    @get(
        "/metrics",
        summary="Prometheus metrics",
        operation_id="metrics",
        media_type="text/plain",
        include_in_schema=True,
    )
    async def metrics(self, request: Request[Any, Any, Any]) -> Response[str]:
        metrics: ApiMetrics = request.app.state.metrics
        return Response(content=metrics.render().decode(), media_type=metrics.content_type)
