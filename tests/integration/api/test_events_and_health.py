"""SSE bridge from gateway.online.> (filtering, keep-alive, key in the query string), probes, metrics,
the page, the OpenAPI schema, and ApiService start-up failures."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
import nats
import pytest

from tests.fixtures.api import RunApi
from tests.integration.api.conftest import ADMIN_KEY, READ, READ_KEY
from vosync.api.service import ApiService
from vosync.shared import bus
from vosync.shared.catalogue import GatewayType
from vosync.shared.messages import GatewayOnlineEvent
from vosync.shared.settings import Settings, SettingsError

EVENTS = "/api/v1/events/gateway-online"


def event(instance_id: int, name: str, online: bool, event_id: int) -> GatewayOnlineEvent:
    return GatewayOnlineEvent(
        event_id=event_id,
        instance_id=instance_id,
        gateway_type=GatewayType.MAPPING,
        gateway_name=name,
        is_online=online,
        previous=not online,
        changed_at=datetime.now(UTC),
        asr=0.5,
    )


async def sse_blocks(lines: AsyncIterator[str]) -> AsyncIterator[dict[str, str]]:
    """SSE blocks as {field: value}; comments under ":"."""
    block: dict[str, str] = {}
    async for line in lines:
        if not line:
            if block:
                yield block
            block = {}
            continue
        field, _, value = line.partition(":")
        block[field] = value.strip()


async def test_sse_client_receives_transitions_of_its_instance(
    api: httpx.AsyncClient, api_settings: Settings
) -> None:
    nc = await nats.connect(api_settings.require_nats_url())
    try:
        async with api.stream("GET", EVENTS, params={"instance_id": 1}, headers=READ) as res:
            assert res.status_code == 200
            assert res.headers["content-type"].startswith("text/event-stream")
            blocks = sse_blocks(res.aiter_lines())
            assert (await anext(blocks))[""] == "connected"  # subscribed from here on
            for ev in (event(2, "other", True, 1), event(1, "gw-1", False, 2)):
                subject = bus.event_subject(ev.instance_id, ev.gateway_type)
                await nc.publish(subject, ev.model_dump_json().encode())
            block = await asyncio.wait_for(anext(blocks), 5)
            assert block["event"] == "gateway.online" and block["id"] == "2"
            data = json.loads(block["data"])
            assert data["instance_id"] == 1 and data["gateway_name"] == "gw-1" and data["is_online"] is False
            assert data["previous"] is True and data["gateway_type"] == "mapping"
    finally:
        await nc.close()


async def test_sse_keepalive_and_query_key(make_settings: Callable[..., Settings], run_api: RunApi) -> None:
    settings = make_settings(api_keys={READ_KEY: "read"}, api_sse_keepalive_s=0.2)
    service = await run_api(settings)
    async with httpx.AsyncClient(base_url=service.url, timeout=10) as client:
        assert (await client.get(EVENTS, params={"api_key": "wrong"})).status_code == 401
        async with client.stream("GET", EVENTS, params={"api_key": READ_KEY}) as res:
            assert res.status_code == 200
            blocks = sse_blocks(res.aiter_lines())
            assert (await anext(blocks))[""] == "connected"
            assert (await asyncio.wait_for(anext(blocks), 5))[""] == "keepalive"
        # The query-string key is for EventSource only; other routes want the header.
        assert (await client.get("/api/v1/instances", params={"api_key": READ_KEY})).status_code == 401


async def test_probes_metrics_page_and_schema(api: httpx.AsyncClient, pg_conn: object) -> None:
    assert (await api.get("/health/live")).json() == {"status": "ok"}
    ready = (await api.get("/health/ready")).json()
    assert ready == {"status": "ok", "checks": {"database": True, "nats": True}, "degraded": []}
    await api.get("/api/v1/instances", headers=READ)
    metrics = await api.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert 'vosync_api_requests_total{method="GET",route="/api/v1/instances",status="200"}' in metrics.text
    assert "vosync_api_request_duration_seconds_bucket" in metrics.text
    page = await api.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<html" in page.text.lower()
    schema = (await api.get("/schema/openapi.json")).json()
    paths = schema["paths"]
    for path in (
        "/api/v1/vos-api/instances/{instance_id}/{api_name}",
        "/api/v1/instances/{instance_id}/gateways",
        "/api/v1/instances/{instance_id}/gateways/{gateway_type}/{gateway_name}",
        "/api/v1/gateways/summary",
        "/api/v1/instances",
        "/api/v1/instances/{instance_id}",
        "/api/v1/instances/{instance_id}/cache",
        "/api/v1/instances/{instance_id}/sync",
        "/api/v1/events/gateway-online",
        "/api/v1/events/gateway-changes",
        "/api/v1/events",
        "/api/v1/instances/{instance_id}/gateway-history/{gateway_type}/{gateway_name}",
        "/api/v1/status",
        "/health/live",
        "/health/ready",
        "/metrics",
    ):
        assert path in paths, path
    status_reply = paths["/api/v1/status"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert status_reply["$ref"].endswith("/StatusReply")
    assert {"instances", "services"} <= set(schema["components"]["schemas"]["StatusReply"]["properties"])
    assert schema["components"]["securitySchemes"]["ApiKey"]["name"] == "X-API-Key"
    assert (await api.get("/schema/swagger")).status_code == 200


async def test_ready_reports_a_lost_database(api: httpx.AsyncClient, api_service: ApiService) -> None:
    await api_service.resources._engine.dispose()  # type: ignore[union-attr]
    # A disposed pool reconnects; an engine pointed nowhere does not: swap in a dead one.
    from sqlalchemy.ext.asyncio import create_async_engine

    dead = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    api_service.resources.services.health._engine = dead
    try:
        res = await api.get("/health/ready")
        # Fetches through NATS still serve: degraded, not unready (issue #17 item 6).
        assert res.status_code == 200 and res.json() == {
            "status": "degraded",
            "checks": {"database": False, "nats": True},
            "degraded": ["database"],
        }
    finally:
        await dead.dispose()


async def test_start_refuses_auth_off_on_a_public_host(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(SettingsError, match="loopback"):
        ApiService(make_settings(auth="off", api_host="0.0.0.0"))


async def test_start_fails_clearly_when_the_port_is_taken(make_settings: Callable[..., Settings]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        service = ApiService(make_settings(api_keys={ADMIN_KEY: "admin"}, api_port=port))
        with pytest.raises(RuntimeError, match=f"could not listen on 127.0.0.1:{port}"):
            await service.start()
        assert not service.resources.started


async def test_stop_ends_open_event_streams_promptly(make_settings: Callable[..., Settings]) -> None:
    from tests.fixtures.api import api_running

    async with (
        api_running(make_settings(api_keys={READ_KEY: "read"})) as service,
        httpx.AsyncClient(base_url=service.url, timeout=10) as client,
        client.stream("GET", EVENTS, headers=READ) as res,
    ):
        lines = res.aiter_lines()
        assert await anext(lines) == ": connected"
        started = asyncio.get_running_loop().time()
        await service.stop()  # stopping twice (again on leaving the block) is harmless
        assert asyncio.get_running_loop().time() - started < 3
        rest = [line async for line in lines]  # the stream ended instead of hanging
        assert all(not line.startswith("data:") for line in rest)


async def test_asyncapi_document_and_page(api: httpx.AsyncClient, api_settings: Settings) -> None:
    reply = await api.get("/schema/asyncapi.json")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("application/json")
    text = reply.text
    assert reply.json()["asyncapi"].startswith("3.")
    nats_port = urlsplit(api_settings.require_nats_url().split(",")[0]).port
    assert {s["host"] for s in reply.json()["servers"].values()} == {f"127.0.0.1:{nats_port}"}
    for subject in ("vos.result.", "vos.fetch.", "gateway.online.", "vos.cache.changed.", "vos.dead."):
        assert subject in text
    for field_name in ("fetched_at", "is_online", "cache_keys"):
        assert f'"{field_name}"' in text
    page = await api.get("/schema/asyncapi")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "vos.fetch.{instance_id}" in page.text and "/schema/asyncapi.json" in page.text
    assert "/schema/asyncapi" in (await api.get("/schema/openapi.json")).json()["info"]["description"]


async def test_undecodable_messages_are_dropped_and_later_ones_still_arrive(
    api: httpx.AsyncClient, api_settings: Settings, api_service: ApiService
) -> None:
    nc = await nats.connect(api_settings.require_nats_url())
    try:
        async with api.stream("GET", EVENTS, params={"instance_id": 1}, headers=READ) as res:
            blocks = sse_blocks(res.aiter_lines())
            assert (await anext(blocks))[""] == "connected"
            before = api_service.resources.metrics.invalidations
            await nc.publish("vos.cache.changed.1", b"not json")
            await nc.publish("vos.cache.changed.1", b'{"instance_id": "x"}')
            await nc.publish(bus.event_subject(1, GatewayType.MAPPING), b"\x00garbage")
            ev = event(1, "gw-after", True, 7)
            await nc.publish(bus.event_subject(1, ev.gateway_type), ev.model_dump_json().encode())
            await nc.publish("vos.cache.changed.1", b'{"instance_id": 1, "cache_keys": ["k"]}')
            block = await asyncio.wait_for(anext(blocks), 5)
            assert block["id"] == "7" and json.loads(block["data"])["gateway_name"] == "gw-after"
            deadline = asyncio.get_running_loop().time() + 5
            while api_service.resources.metrics.invalidations != before + 1:
                assert asyncio.get_running_loop().time() < deadline, "the valid change was not applied"
                await asyncio.sleep(0.02)
    finally:
        await nc.close()
