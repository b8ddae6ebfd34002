"""Two api replicas on one bus: both get every gateway event, and an invalidation through one drops
the other's in-process copy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import httpx
import nats

from tests.fixtures.api import RunApi
from tests.integration.api.conftest import (
    ADMIN,
    READ,
    StartTestPoller,
    insert_cache_row,
    insert_instance,
    ok_result,
)
from vosync.shared import bus
from vosync.shared.catalogue import GatewayType
from vosync.shared.messages import GatewayOnlineEvent
from vosync.shared.settings import Settings

EVENTS = "/api/v1/events/gateway-online"


async def test_every_replica_gets_every_event(api_settings: Settings, run_api: RunApi) -> None:
    replicas = [await run_api(api_settings), await run_api(api_settings)]
    nc = await nats.connect(api_settings.require_nats_url())
    event = GatewayOnlineEvent(
        event_id=7,
        instance_id=1,
        gateway_type=GatewayType.ROUTING,
        gateway_name="carrier-1",
        is_online=True,
        previous=False,
        changed_at=datetime.now(UTC),
    )
    try:
        async with (
            httpx.AsyncClient(base_url=replicas[0].url, timeout=10) as a,
            httpx.AsyncClient(base_url=replicas[1].url, timeout=10) as b,
            a.stream("GET", EVENTS, headers=READ) as stream_a,
            b.stream("GET", EVENTS, headers=READ) as stream_b,
        ):
            lines = [stream_a.aiter_lines(), stream_b.aiter_lines()]
            for it in lines:
                assert await anext(it) == ": connected"
            await nc.publish(bus.event_subject(1, "routing"), event.model_dump_json().encode())

            async def first_data(it: AsyncIterator[str]) -> str:
                async for line in it:
                    if line.startswith("data: "):
                        return line
                raise AssertionError("stream ended")

            got = await asyncio.wait_for(asyncio.gather(*(first_data(it) for it in lines)), 5)
            assert all('"gateway_name":"carrier-1"' in line for line in got)
    finally:
        await nc.close()


async def test_invalidation_through_one_replica_reaches_the_other(
    api_settings: Settings, run_api: RunApi, pg_conn: asyncpg.Connection, start_test_poller: StartTestPoller
) -> None:
    iid = await insert_instance(pg_conn)
    await insert_cache_row(pg_conn, iid, "GetSuite", {"retCode": 0, "v": 1})
    one, two = await run_api(api_settings), await run_api(api_settings)
    path = f"/api/v1/vos-api/instances/{iid}/GetSuite"
    async with (
        httpx.AsyncClient(base_url=one.url, timeout=10) as a,
        httpx.AsyncClient(base_url=two.url, timeout=10) as b,
    ):
        for client in (a, b):  # both replicas hold the reply in memory
            assert (await client.post(path, headers=READ)).json()["data_source"] == "database"
        poller = await start_test_poller(lambda req: ok_result(req, {"retCode": 0, "v": 2}))
        assert (await a.delete(f"/api/v1/instances/{iid}/cache", headers=ADMIN)).json()["invalidated"] == 1

        async def refetched_by_b() -> bool:
            body = (await b.post(path, headers=READ)).json()
            return bool(body["data"] == {"retCode": 0, "v": 2})

        deadline = asyncio.get_running_loop().time() + 5
        while not await refetched_by_b():
            assert asyncio.get_running_loop().time() < deadline, "replica two kept its old copy"
            await asyncio.sleep(0.05)
        assert len(poller.requests) == 1
