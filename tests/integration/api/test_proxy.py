"""The cached VOS proxy against real NATS + PostgreSQL, with a test poller on the bus.

Each data_source case (database, vos_api, stale), VOS faults with and without a stored row, the
error statuses, secrets masking, coalescing of concurrent misses and the in-process cache.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import asyncpg
import httpx

from tests.integration.api.conftest import (
    ADMIN,
    READ,
    StartTestPoller,
    failed_result,
    insert_cache_row,
    insert_instance,
    note_cache_changed,
    ok_result,
)
from vosync.api.service import ApiService
from vosync.shared.messages import CacheChanged, ErrorKind, FetchReason, FetchRequest

MAPPING = {
    "retCode": 0,
    "infoGatewayMappings": [{"name": "gw-1", "password": "s3cret", "remoteIps": "10.0.0.1"}],
}
SUITES = {"retCode": 0, "infoSuites": [{"suiteId": 1}]}


def url(instance_id: int, api_name: str, refresh: bool = False) -> str:
    return f"/api/v1/vos-api/instances/{instance_id}/{api_name}" + ("?refresh=true" if refresh else "")


async def test_fresh_row_is_served_from_the_database(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection
) -> None:
    iid = await insert_instance(pg_conn, "vos-a")
    await insert_cache_row(pg_conn, iid, "GetGatewayMapping", MAPPING, age_s=5)
    res = await api.post(url(iid, "GetGatewayMapping"), json={}, headers=ADMIN)
    assert res.status_code == 200
    body = res.json()
    assert body["success"] is True and body["error"] is None
    assert body["data_source"] == "database" and body["instance_name"] == "vos-a"
    assert body["data"] == MAPPING  # the VOS reply itself: res.data.data.infoGatewayMappings
    assert 5 <= body["age_s"] < 60 and body["synced_at"] and body["expires_at"]


async def test_secrets_are_masked_for_read_keys(api: httpx.AsyncClient, pg_conn: asyncpg.Connection) -> None:
    iid = await insert_instance(pg_conn)
    await insert_cache_row(pg_conn, iid, "GetGatewayMapping", MAPPING)
    read = (await api.post(url(iid, "GetGatewayMapping"), headers=READ)).json()
    admin = (await api.post(url(iid, "GetGatewayMapping"), headers=ADMIN)).json()
    assert read["data"]["infoGatewayMappings"][0]["password"] == "***"
    assert admin["data"]["infoGatewayMappings"][0]["password"] == "s3cret"
    assert read["data"]["infoGatewayMappings"][0]["remoteIps"] == "10.0.0.1"


async def test_missing_row_is_fetched_through_the_pollers(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection, start_test_poller: StartTestPoller
) -> None:
    iid = await insert_instance(pg_conn)
    poller = await start_test_poller(lambda req: ok_result(req, SUITES))
    res = await api.post(url(iid, "GetSuite"), json={"suiteIds": [1]}, headers=READ)
    assert res.status_code == 200
    body = res.json()
    assert body["data_source"] == "vos_api" and body["data"] == SUITES and body["age_s"] < 5
    assert poller.requests == [
        FetchRequest(
            instance_id=iid, api_name="GetSuite", params={"suiteIds": [1]}, reason=FetchReason.ON_DEMAND
        )
    ]
    # The fetched reply now answers from the in-process cache until the writer's change arrives.
    again = (await api.post(url(iid, "GetSuite"), json={"suiteIds": [1]}, headers=READ)).json()
    assert again["data_source"] == "database" and len(poller.requests) == 1


async def test_expired_row_is_refetched_and_refresh_forces_a_fetch(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection, start_test_poller: StartTestPoller
) -> None:
    iid = await insert_instance(pg_conn)
    await insert_cache_row(pg_conn, iid, "GetSuite", {"retCode": 0, "old": True}, age_s=600, ttl_s=300)
    poller = await start_test_poller(lambda req: ok_result(req, SUITES))
    assert (await api.post(url(iid, "GetSuite"), headers=READ)).json()["data_source"] == "vos_api"
    forced = (await api.post(url(iid, "GetSuite", refresh=True), headers=READ)).json()
    assert forced["data_source"] == "vos_api" and len(poller.requests) == 2


async def test_invalid_row_is_refetched(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection, start_test_poller: StartTestPoller
) -> None:
    iid = await insert_instance(pg_conn)
    await insert_cache_row(pg_conn, iid, "GetSuite", {"retCode": 0, "old": True}, is_valid=False)
    await start_test_poller(lambda req: ok_result(req, SUITES))
    assert (await api.post(url(iid, "GetSuite"), headers=READ)).json()["data_source"] == "vos_api"


async def test_vos_fault_with_a_stored_row_serves_it_stale(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection, start_test_poller: StartTestPoller
) -> None:
    iid = await insert_instance(pg_conn)
    old = {"retCode": 0, "infoSuites": [{"suiteId": 0}]}
    await insert_cache_row(pg_conn, iid, "GetSuite", old, age_s=900, ttl_s=300)
    await start_test_poller(lambda req: failed_result(req, ErrorKind.TIMEOUT, "VOS did not answer in 10 s"))
    for refresh in (False, True):
        res = await api.post(url(iid, "GetSuite", refresh), headers=READ)
        assert res.status_code == 200
        body = res.json()
        assert body["data_source"] == "stale" and body["success"] is True and body["data"] == old
        assert "VOS did not answer" in body["error"] and body["age_s"] >= 900


async def test_vos_error_with_nothing_stored_is_502(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection, start_test_poller: StartTestPoller
) -> None:
    iid = await insert_instance(pg_conn)
    await start_test_poller(
        lambda req: failed_result(req, ErrorKind.RET_CODE, "retCode -10007", ret_code=-10007)
    )
    res = await api.post(url(iid, "GetSuite"), headers=READ)
    assert res.status_code == 502
    body = res.json()
    assert body["status_code"] == 502 and "retCode -10007" in body["detail"]
    assert body["extra"] == {"error_kind": "ret_code", "ret_code": -10007}


async def test_a_row_without_good_data_counts_as_nothing_stored(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection, start_test_poller: StartTestPoller
) -> None:
    iid = await insert_instance(pg_conn)
    await insert_cache_row(pg_conn, iid, "GetSuite", None, error_message="connect refused")
    await start_test_poller(lambda req: failed_result(req, ErrorKind.CONNECT, "connection refused"))
    assert (await api.post(url(iid, "GetSuite"), headers=READ)).status_code == 502


async def test_no_poller_is_503_or_stale(api: httpx.AsyncClient, pg_conn: asyncpg.Connection) -> None:
    iid = await insert_instance(pg_conn)
    res = await api.post(url(iid, "GetSuite"), headers=READ)
    assert res.status_code == 503 and "no poller" in res.json()["detail"]
    await insert_cache_row(pg_conn, iid, "GetSuite", SUITES, age_s=900, ttl_s=300)
    stale = (await api.post(url(iid, "GetSuite"), headers=READ)).json()
    assert stale["data_source"] == "stale" and "no poller" in stale["error"]


async def test_poller_that_never_answers_times_out_to_503(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection, start_test_poller: StartTestPoller
) -> None:
    iid = await insert_instance(pg_conn)
    await start_test_poller(lambda req: None)
    started = asyncio.get_running_loop().time()
    res = await api.post(url(iid, "GetSuite"), headers=READ)
    assert res.status_code == 503 and "within 2 s" in res.json()["detail"]
    assert asyncio.get_running_loop().time() - started < 5


async def test_poller_refusal_keeps_its_status(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection, start_test_poller: StartTestPoller
) -> None:
    iid = await insert_instance(pg_conn)
    await start_test_poller(lambda req: ("instance disabled", 503))
    res = await api.post(url(iid, "GetSuite"), headers=READ)
    assert res.status_code == 503 and "instance disabled" in res.json()["detail"]


async def test_refused_and_unknown_requests(api: httpx.AsyncClient, pg_conn: asyncpg.Connection) -> None:
    iid = await insert_instance(pg_conn)
    write = await api.post(url(iid, "ModifyGatewayMapping"), json={}, headers=ADMIN)
    assert write.status_code == 403 and "read-only" in write.json()["detail"]
    assert (await api.post(url(iid, "GetNothingReal"), headers=READ)).status_code == 404
    assert (await api.post(url(iid + 1, "GetSuite"), headers=READ)).status_code == 404
    assert (await api.post(url(2**40, "GetSuite"), headers=READ)).status_code == 404
    assert (await api.post("/api/v1/vos-api/instances/abc/GetSuite", headers=READ)).status_code == 404
    hostile = (
        b'{"a": ' + b"[" * 100 + b"]" * 100 + b"}",  # deeper than any VOS params
        b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}",  # too deep to decode at all
        b'{"name": "\\ud800"}',  # a lone surrogate: not text
    )
    for body in (b"[1, 2]", b'"text"', b"{not json", b"1", *hostile):
        res = await api.post(url(iid, "GetSuite"), content=body, headers=READ)
        assert res.status_code == 400, body
        assert res.json()["status_code"] == 400
    too_big = {"names": ["x" * 1000] * 70}
    res = await api.post(url(iid, "GetSuite"), json=too_big, headers=READ)
    assert res.status_code == 400 and "larger than 65536" in res.json()["detail"]
    bad_flag = url(iid, "GetSuite", True).replace("true", "maybe")
    assert (await api.post(bad_flag, headers=READ)).status_code == 400


async def test_auth_on_the_proxy(api: httpx.AsyncClient, pg_conn: asyncpg.Connection) -> None:
    iid = await insert_instance(pg_conn)
    await insert_cache_row(pg_conn, iid, "GetSuite", SUITES)
    assert (await api.post(url(iid, "GetSuite"))).status_code == 401
    assert (await api.post(url(iid, "GetSuite"), headers={"X-API-Key": "wrong"})).status_code == 401
    assert (await api.post(url(iid, "GetSuite"), headers=READ)).status_code == 200


async def test_concurrent_misses_share_one_fetch(
    api: httpx.AsyncClient,
    api_service: ApiService,
    pg_conn: asyncpg.Connection,
    start_test_poller: StartTestPoller,
) -> None:
    iid = await insert_instance(pg_conn)
    await insert_cache_row(pg_conn, iid, "GetGatewayMapping", MAPPING, age_s=7200, ttl_s=3600)
    poller = await start_test_poller(lambda req: ok_result(req, MAPPING), delay_s=0.3)
    # aiohttp: httpx's pool is far too slow with 500 concurrent connections.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=500)) as session:

        async def one() -> tuple[int, str]:
            target = api_service.url + url(iid, "GetGatewayMapping")
            async with session.post(target, json={}, headers=READ) as r:
                return r.status, (await r.json())["data_source"]

        replies = await asyncio.gather(*(one() for _ in range(500)))
    assert {status for status, _ in replies} == {200}
    sources = {source for _, source in replies}
    assert sources <= {"vos_api", "database"} and "vos_api" in sources
    assert len(poller.requests) == 1
    metrics = (await api.get("/metrics")).text
    assert "vosync_api_coalesced_requests_total" in metrics


async def test_cache_changed_drops_the_in_process_copy(
    api: httpx.AsyncClient, api_settings: Any, pg_conn: asyncpg.Connection
) -> None:
    iid = await insert_instance(pg_conn)
    key = await insert_cache_row(pg_conn, iid, "GetSuite", SUITES)
    first = (await api.post(url(iid, "GetSuite"), headers=READ)).json()
    assert first["data"] == SUITES
    # The row changes behind the api's back: the in-process copy still answers (no database trip)…
    await pg_conn.execute('UPDATE vos_data_cache SET response_data = \'{"retCode": 0, "v": 2}\'::jsonb')
    assert (await api.post(url(iid, "GetSuite"), headers=READ)).json()["data"] == SUITES
    # …until the writer's change notification arrives (core NATS, every replica).
    await note_cache_changed(api_settings, CacheChanged(instance_id=iid, cache_keys=[key]))
    deadline = asyncio.get_running_loop().time() + 5
    while (await api.post(url(iid, "GetSuite"), headers=READ)).json()["data"] != {"retCode": 0, "v": 2}:
        assert asyncio.get_running_loop().time() < deadline, "the change notification was not applied"
        await asyncio.sleep(0.02)


async def test_database_away_still_serves_cached_and_fetched_replies(
    api: httpx.AsyncClient,
    api_service: ApiService,
    pg_conn: asyncpg.Connection,
    start_test_poller: StartTestPoller,
) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    iid = await insert_instance(pg_conn)
    await insert_cache_row(pg_conn, iid, "GetGatewayMapping", MAPPING)
    assert (await api.post(url(iid, "GetGatewayMapping"), headers=READ)).json()["data_source"] == "database"
    proxy = api_service.resources.proxy
    dead = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    proxy._engine = dead  # PostgreSQL is gone, as far as the proxy can tell
    try:
        cached = await api.post(url(iid, "GetGatewayMapping"), headers=READ)
        assert cached.json()["data_source"] == "database"  # the in-process copy needs no database
        await start_test_poller(
            lambda req: (
                ok_result(req, SUITES)
                if req.api_name == "GetSuite"
                else failed_result(req, ErrorKind.CONNECT, "connection refused")
            )
        )
        fetched = await api.post(url(iid, "GetSuite"), headers=READ)
        assert fetched.status_code == 200 and fetched.json()["data_source"] == "vos_api"
        failed = await api.post(url(iid, "GetFeeRateGroup"), headers=READ)
        assert failed.status_code == 503 and "database unavailable" in failed.json()["detail"]
    finally:
        await dead.dispose()


async def test_auth_off_lets_everyone_in_but_keeps_secrets_masked(
    make_settings: Any, run_api: Any, pg_conn: asyncpg.Connection
) -> None:
    service = await run_api(make_settings(auth="off", api_keys={"only-admin": "admin"}))
    async with httpx.AsyncClient(base_url=service.url, timeout=10) as client:
        created = await client.post("/api/v1/instances", json={"name": "open", "base_url": "http://h"})
        assert created.status_code == 201  # no key needed to change instances
        iid = created.json()["id"]
        await insert_cache_row(pg_conn, iid, "GetGatewayMapping", MAPPING)
        anonymous = (await client.post(url(iid, "GetGatewayMapping"))).json()
        assert anonymous["data"]["infoGatewayMappings"][0]["password"] == "***"
        admin = (await client.post(url(iid, "GetGatewayMapping"), headers={"X-API-Key": "only-admin"})).json()
        assert admin["data"]["infoGatewayMappings"][0]["password"] == "s3cret"
