"""Issue #17 item 7: forced refreshes of one key are debounced; VOS is not called per request."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from tests.integration.api.conftest import ADMIN, READ, StartTestPoller, insert_instance, ok_result

SUITES = {"retCode": 0, "infoSuites": [{"name": "s1"}]}


async def test_twenty_forced_refreshes_in_two_seconds_reach_vos_at_most_twice(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection, start_test_poller: StartTestPoller
) -> None:
    iid = await insert_instance(pg_conn)
    poller = await start_test_poller(lambda req: ok_result(req, SUITES))
    statuses = []
    for _ in range(20):
        res = await api.post(f"/api/v1/vos-api/instances/{iid}/GetSuite?refresh=true", json={}, headers=READ)
        statuses.append(res.status_code)
        assert res.status_code < 500, res.text
        if res.status_code == 200:
            assert res.json()["data"] == SUITES
        await asyncio.sleep(0.1)
    assert statuses.count(200) >= 1
    assert len(poller.requests) <= 2, len(poller.requests)


async def test_twenty_syncs_in_two_seconds_reach_vos_at_most_twice_per_api(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection, start_test_poller: StartTestPoller
) -> None:
    iid = await insert_instance(pg_conn)
    poller = await start_test_poller(lambda req: ok_result(req, {"retCode": 0}))
    for _ in range(20):
        res = await api.post(f"/api/v1/instances/{iid}/sync", json={"apis": ["GetSuite"]}, headers=ADMIN)
        assert res.status_code < 500, res.text
        if res.status_code == 200:
            assert res.json()["results"][0]["ok"] is True
        await asyncio.sleep(0.1)
    assert len(poller.requests) <= 2, len(poller.requests)
