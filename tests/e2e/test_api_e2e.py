"""The api end to end: VOS simulator → real poller → NATS → real writer → PostgreSQL → api.

Every data_source case (database, vos_api, stale) with VOS faults with and without a stored row,
500 concurrent reads of one expired key causing exactly one VOS call, masking for read keys, and a
browser-less SSE client seeing a gateway flip within one online poll interval.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fixtures.stack import RunningStack, StackRunner
from tests.support.waiting import wait_until

ADMIN = {"X-API-Key": "e2e-admin"}
READ = {"X-API-Key": "e2e-read"}
ONLINE_INTERVAL_S = 1.0
INTERVALS = {
    "GetGatewayMappingOnline": ONLINE_INTERVAL_S,
    "GetGatewayRoutingOnline": ONLINE_INTERVAL_S,
    "GetGatewayMapping": 2.0,
    "GetGatewayRouting": 2.0,
    "GetAllPhoneOnline": 5.0,
    "GetFeeRateGroup": 5.0,
    "GetSuite": 5.0,
}

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("vosync_debug_logs")]


class Stack(RunningStack):
    async def stored(self, api_name: str) -> bool:
        """Whether the writer has stored a good reply of this API."""
        row = await self.pg.fetchrow(
            "SELECT 1 FROM vos_data_cache"
            " WHERE vos_instance_id = $1 AND api_name = $2 AND synced_at IS NOT NULL",
            self.instance_id,
            api_name,
        )
        return row is not None


@pytest.fixture
async def stack(run_stack: StackRunner) -> AsyncIterator[Stack]:
    overrides: dict[str, Any] = {
        "auth": "required",
        "api_keys": {ADMIN["X-API-Key"]: "admin", READ["X-API-Key"]: "read"},
        "poll_intervals": INTERVALS,
        "vos_timeout_s": 1.5,
        "lease_ttl_s": 3.0,
        "api_fetch_timeout_s": 5.0,
        "api_failure_backoff_s": 0,
    }
    async with run_stack(Stack, overrides, gateways=50, admin=ADMIN) as stack:
        yield stack


async def test_each_data_source_with_and_without_vos_faults(stack: Stack) -> None:
    client, vos = stack.client, stack.vos

    # vos_api: nothing stored yet for this on-demand API, so the pollers fetch it now.
    first = await client.post(stack.proxy("GetPerformance"), json={}, headers=READ)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["data_source"] == "vos_api" and body["success"] is True and body["instance_name"] == "sim-0"
    assert body["data"]["retCode"] == 0
    assert vos.calls["GetPerformance"] == 1

    # database: the writer stores the result; reads come from vosync without calling VOS.
    await wait_until(lambda: stack.stored("GetPerformance"), 10, "the writer to store GetPerformance")
    for _ in range(3):
        again = (await client.post(stack.proxy("GetPerformance"), json={}, headers=READ)).json()
        assert again["data_source"] == "database" and again["data"] == body["data"]
    assert vos.calls["GetPerformance"] == 1

    # database, from the scheduled poll: the VOS reply itself, secrets masked for a read key.
    await wait_until(lambda: stack.stored("GetGatewayMapping"), 15, "the scheduled GetGatewayMapping")
    mapping = (await client.post(stack.proxy("GetGatewayMapping"), json={}, headers=READ)).json()
    assert mapping["data_source"] == "database"
    gateways = mapping["data"]["infoGatewayMappings"]
    assert len(gateways) == 50 and all(g.get("password") in (None, "***") for g in gateways)
    assert any(g.get("password") == "***" for g in gateways)
    admin = (await client.post(stack.proxy("GetGatewayMapping"), json={}, headers=ADMIN)).json()
    assert any(g.get("password") not in (None, "***") for g in admin["data"]["infoGatewayMappings"])

    # stale: VOS fails (HTTP 500) on a forced refresh; the stored reply is served, marked.
    vos.faults.set({"api": "GetPerformance", "mode": "http_500"})
    stale = await client.post(stack.proxy("GetPerformance", refresh=True), json={}, headers=READ)
    assert stale.status_code == 200, stale.text
    stale_body = stale.json()
    assert stale_body["data_source"] == "stale" and stale_body["success"] is True
    assert stale_body["error"] and stale_body["data"] == body["data"]
    assert vos.calls["GetPerformance"] >= 2  # the refresh did ask VOS

    # VOS error with nothing stored: 502 with the VOS failure.
    vos.faults.set({"api": "GetSoftSwitch", "mode": "ret_code", "ret_code": -10007})
    failed = await client.post(stack.proxy("GetSoftSwitch"), json={}, headers=READ)
    assert failed.status_code == 502, failed.text
    assert failed.json()["extra"] == {"error_kind": "ret_code", "ret_code": -10007}
    vos.faults.clear()


async def test_pollers_gone_serves_stale_or_503(stack: Stack) -> None:
    client = stack.client
    assert (await client.post(stack.proxy("GetPerformance"), headers=READ)).json()["data_source"] == "vos_api"
    await wait_until(lambda: stack.stored("GetPerformance"), 10, "the writer to store GetPerformance")
    await stack.poller.stop()  # the only poller: fetch requests now have no responder
    stale = (await client.post(stack.proxy("GetPerformance", refresh=True), headers=READ)).json()
    assert stale["data_source"] == "stale" and "poller" in stale["error"]
    nothing = await client.post(stack.proxy("GetSoftSwitch"), headers=READ)
    assert nothing.status_code == 503 and "poller" in nothing.json()["detail"]


async def test_500_concurrent_reads_of_an_expired_key_make_one_vos_call(stack: Stack) -> None:
    client, vos = stack.client, stack.vos
    assert (await client.post(stack.proxy("GetPerformance"), headers=READ)).status_code == 200
    await wait_until(lambda: stack.stored("GetPerformance"), 10, "the writer to store GetPerformance")
    # Expire it: invalidation marks the row so the next read must fetch.
    invalidated = await client.delete(
        f"/api/v1/instances/{stack.instance_id}/cache", params={"api_path": "GetPerformance"}, headers=ADMIN
    )
    assert invalidated.json()["invalidated"] == 1
    vos.faults.set({"api": "GetPerformance", "latency_ms": [200, 200]})  # the stampede overlaps the call
    before = vos.calls["GetPerformance"]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=500)) as session:

        async def one() -> tuple[int, str]:
            async with session.post(
                stack.api.url + stack.proxy("GetPerformance"), json={}, headers=READ
            ) as r:
                return r.status, (await r.json())["data_source"]

        replies = await asyncio.gather(*(one() for _ in range(500)))
    assert {status for status, _ in replies} == {200}
    assert "vos_api" in {source for _, source in replies}
    assert vos.calls["GetPerformance"] - before == 1
    metrics = (await client.get("/metrics")).text
    coalesced = next(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("vosync_api_coalesced_requests_total")
    )
    assert coalesced >= 1


async def test_sse_client_sees_a_gateway_flip_within_one_online_interval(stack: Stack) -> None:
    client, vos = stack.client, stack.vos

    async def gateways_loaded() -> bool:
        res = await client.get(
            f"/api/v1/instances/{stack.instance_id}/gateways", params={"type": "mapping"}, headers=READ
        )
        return res.json()["counts"]["mapping"]["total"] == 50 and res.json()["online_synced_at"] is not None

    await wait_until(gateways_loaded, 15, "the gateways table to fill")
    listing = (
        await client.get(
            f"/api/v1/instances/{stack.instance_id}/gateways",
            params={"type": "mapping", "limit": 1},
            headers=READ,
        )
    ).json()
    target = listing["items"][0]
    events = f"/api/v1/events/gateway-online?instance_id={stack.instance_id}"
    async with client.stream("GET", events, headers=READ) as res:
        lines = res.aiter_lines()
        assert await anext(lines) == ": connected"
        vos.state.set_online("mapping", target["gateway_name"], not target["is_online"])
        flipped = time.monotonic()
        event: dict[str, Any] | None = None
        async with asyncio.timeout(ONLINE_INTERVAL_S * 10):
            async for line in lines:
                if line.startswith("data: "):
                    event = json.loads(line.removeprefix("data: "))
                    if event["gateway_name"] == target["gateway_name"]:
                        break
        elapsed = time.monotonic() - flipped
    assert event is not None and event["is_online"] is (not target["is_online"])
    # One online poll interval, plus the fetch, the writer's commit and the relay (well under 1 s).
    print(f"gateway flip reached the SSE client after {elapsed:.2f} s")
    assert elapsed < ONLINE_INTERVAL_S + 1.0, f"event after {elapsed:.2f} s"
