"""GET /api/v1/events/gateway-changes: the writer's change notes of one instance, as named SSE hints."""

from __future__ import annotations

import asyncio
import json

import httpx
import nats

from tests.integration.api.conftest import READ, READ_KEY
from tests.integration.api.test_events_and_health import sse_blocks
from vosync.shared.cache_key import cache_key
from vosync.shared.catalogue import API_PATH_PREFIX
from vosync.shared.channels import CACHE_CHANGED
from vosync.shared.messages import CacheChanged
from vosync.shared.settings import Settings

CHANGES = "/api/v1/events/gateway-changes"


def key(api_name: str) -> str:
    return cache_key(API_PATH_PREFIX + api_name, {})


async def test_notes_of_the_instance_reach_the_stream_named_by_api(
    api: httpx.AsyncClient, api_settings: Settings
) -> None:
    nc = await nats.connect(api_settings.require_nats_url())

    async def send(note: CacheChanged) -> None:
        body, headers = CACHE_CHANGED.encode(note)
        await nc.publish(CACHE_CHANGED.subject(instance_id=note.instance_id), body, headers=headers)

    try:
        async with api.stream("GET", CHANGES, params={"instance_id": 1}, headers=READ) as res:
            assert res.status_code == 200
            assert res.headers["content-type"].startswith("text/event-stream")
            blocks = sse_blocks(res.aiter_lines())
            assert (await anext(blocks))[""] == "connected"
            # Another instance's note, and a note of an API no gateway table shows: nothing sent.
            await send(CacheChanged(instance_id=2, cache_keys=[key("GetGatewayMappingOnline")]))
            await send(CacheChanged(instance_id=1, cache_keys=[key("GetPerformance")]))
            await send(
                CacheChanged(
                    instance_id=1,
                    cache_keys=[key("GetGatewayMappingOnline"), key("GetSuite")],
                    synced_keys=[key("GetGatewayMapping")],
                )
            )
            block = await asyncio.wait_for(anext(blocks), 5)
            assert block["event"] == "gateways.changed"
            assert json.loads(block["data"]) == {
                "instance_id": 1,
                "changed": ["GetGatewayMappingOnline"],
                "synced": ["GetGatewayMapping"],
            }
    finally:
        await nc.close()


async def test_the_instance_is_required_and_checked(api: httpx.AsyncClient) -> None:
    for params in ({}, {"instance_id": "x"}, {"instance_id": 0}):
        res = await api.get(CHANGES, params=params, headers=READ)
        assert res.status_code == 400, (params, res.text)
        assert "instance_id" in res.text
    assert (await api.get(CHANGES, params={"instance_id": 1})).status_code == 401
    assert (await api.get(CHANGES, params={"instance_id": 1, "api_key": "wrong"})).status_code == 401
    # EventSource cannot send headers: the key in the query string opens the stream.
    async with api.stream("GET", CHANGES, params={"instance_id": 1, "api_key": READ_KEY}) as res:
        assert res.status_code == 200
        assert (await anext(sse_blocks(res.aiter_lines())))[""] == "connected"
