"""Stale-while-revalidate through the real stack: VOS simulator → poller → NATS → writer → api.

An expired key inside its grace window is answered at once with the stored reply (data_source
"database", revalidating, an Age header) while exactly one background fetch asks VOS; the next reads
get the new data. Beyond the window, and with refresh=true, readers still wait for VOS.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.fixtures.stack import RunningStack, StackRunner
from tests.support.waiting import wait_for
from vosync.sim.instance import SimInstance

READ = {"X-API-Key": "swr-read"}
API = "GetGatewayMapping"
TTL_S = 2.0
GRACE_S = 30.0
VOS_LATENCY_MS = 600  # a reader that waited for VOS would take at least this long


def names(body: dict[str, Any]) -> set[str]:
    return {g["name"] for g in body["data"]["infoGatewayMappings"]}


async def sleep_past(expires_at: str, margin_s: float = 0.2) -> None:
    left = (datetime.fromisoformat(expires_at) - datetime.now(UTC)).total_seconds()
    await asyncio.sleep(max(0.0, left) + margin_s)


@pytest.fixture
async def swr(run_stack: StackRunner) -> AsyncIterator[tuple[httpx.AsyncClient, SimInstance, str]]:
    overrides: dict[str, Any] = {
        "auth": "required",
        "api_keys": {READ["X-API-Key"]: "admin"},
        # The scheduled poll runs once at start and not again during the test: every later VOS call
        # of this API is one the api asked for.
        "poll_intervals": {API: 3600.0},
        "cache_ttls": {API: TTL_S},
        "api_stale_while_revalidate_s": {API: GRACE_S},
        "api_fetch_timeout_s": 5.0,
        "api_failure_backoff_s": 0,
        "lease_ttl_s": 3.0,
    }
    async with run_stack(RunningStack, overrides, gateways=20, admin=READ) as running:
        yield running.client, running.vos, running.proxy(API)


async def test_expired_key_inside_the_window_answers_at_once_and_refreshes_once(
    swr: tuple[httpx.AsyncClient, SimInstance, str],
) -> None:
    client, vos, url = swr

    async def stored_and_fresh() -> bool:
        body = (await client.post(url, json={}, headers=READ)).json()
        return bool(body["data_source"] == "database")

    await wait_for(stored_and_fresh, 20, "the scheduled poll to be stored")
    old = (await client.post(url, json={}, headers=READ)).json()
    assert old["revalidating"] is False and "swr-new" not in names(old)

    vos.state.add_gateway("mapping", "swr-new", True, {})
    vos.faults.set({"api": API, "latency_ms": [VOS_LATENCY_MS, VOS_LATENCY_MS]})
    await sleep_past(old["expires_at"])
    before = vos.calls[API]

    started = time.monotonic()
    first = await client.post(url, json={}, headers=READ)
    elapsed_ms = (time.monotonic() - started) * 1000
    body = first.json()
    assert first.status_code == 200
    assert body["data_source"] == "database" and body["revalidating"] is True and body["error"] is None
    assert body["data"] == old["data"] and body["synced_at"] == old["synced_at"]
    assert body["age_s"] >= TTL_S and int(first.headers["age"]) >= int(TTL_S)
    assert elapsed_ms < VOS_LATENCY_MS, f"the stale read waited {elapsed_ms:.0f} ms"

    # More readers while the one fetch runs: all answered at once from the stored reply.
    more = await asyncio.gather(*(client.post(url, json={}, headers=READ) for _ in range(20)))
    assert all(r.json()["data_source"] == "database" and r.json()["data"] == old["data"] for r in more)

    async def refreshed() -> bool:
        reply = (await client.post(url, json={}, headers=READ)).json()
        return reply["data_source"] in ("database", "vos_api") and "swr-new" in names(reply)

    await wait_for(refreshed, 10, "the background fetch's new data")
    assert vos.calls[API] - before == 1
    assert first.headers.get("content-type", "").startswith("application/json")


async def test_refresh_true_inside_the_window_still_waits_for_vos(
    swr: tuple[httpx.AsyncClient, SimInstance, str],
) -> None:
    client, vos, url = swr

    async def stored() -> bool:
        return bool((await client.post(url, json={}, headers=READ)).json()["data_source"] == "database")

    await wait_for(stored, 20, "the scheduled poll to be stored")
    old = (await client.post(url, json={}, headers=READ)).json()
    vos.faults.set({"api": API, "latency_ms": [VOS_LATENCY_MS, VOS_LATENCY_MS]})
    await sleep_past(old["expires_at"])
    started = time.monotonic()
    forced = (await client.post(url + "?refresh=true", json={}, headers=READ)).json()
    assert forced["data_source"] == "vos_api" and forced["revalidating"] is False
    assert (time.monotonic() - started) * 1000 >= VOS_LATENCY_MS
