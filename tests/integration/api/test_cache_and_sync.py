"""Cache status and invalidation (other replicas told over NATS), and sync-now outcomes."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import nats
from nats.aio.msg import Msg

from tests.integration.api.conftest import (
    ADMIN,
    READ,
    StartTestPoller,
    failed_result,
    insert_cache_row,
    insert_instance,
    ok_result,
)
from vosync.shared import bus
from vosync.shared.codec import decode
from vosync.shared.messages import CacheChanged, ErrorKind, FetchReason, FetchRequest
from vosync.shared.settings import Settings

SUITES = {"retCode": 0, "infoSuites": []}


async def test_cache_status(api: httpx.AsyncClient, pg_conn: asyncpg.Connection) -> None:
    iid = await insert_instance(pg_conn)
    await insert_cache_row(pg_conn, iid, "GetSuite", SUITES, age_s=30)
    await insert_cache_row(pg_conn, iid, "GetFeeRateGroup", None, error_message="connect refused")
    res = await api.get(f"/api/v1/instances/{iid}/cache", headers=READ)
    assert res.status_code == 200
    body = res.json()
    assert body["total"] == 2 and body["instance_id"] == iid
    by_api = {item["api_name"]: item for item in body["items"]}
    suite = by_api["GetSuite"]
    assert suite["api_path"] == "/external/server/GetSuite" and suite["is_valid"] is True
    assert 30 <= suite["age_s"] < 90 and suite["expires_at"] and len(suite["cache_key"]) == 32
    assert by_api["GetFeeRateGroup"]["synced_at"] is None
    assert by_api["GetFeeRateGroup"]["error_message"] == "connect refused"
    assert set(suite) == {
        "api_name", "api_path", "cache_key", "synced_at", "expires_at", "age_s", "is_valid", "ret_code",
        "error_kind", "error_message", "last_error_at", "last_attempt_at",
    }  # fmt: skip
    assert (await api.get(f"/api/v1/instances/{iid + 1}/cache", headers=READ)).status_code == 404


async def test_invalidation_marks_rows_and_tells_every_replica(
    api: httpx.AsyncClient,
    api_settings: Settings,
    pg_conn: asyncpg.Connection,
    start_test_poller: StartTestPoller,
) -> None:
    iid = await insert_instance(pg_conn)
    suite_key = await insert_cache_row(pg_conn, iid, "GetSuite", SUITES)
    await insert_cache_row(pg_conn, iid, "GetFeeRateGroup", {"retCode": 0})
    first = await api.post(f"/api/v1/vos-api/instances/{iid}/GetSuite", headers=READ)
    assert first.json()["data_source"] == "database"
    nc = await nats.connect(api_settings.require_nats_url())
    notices: asyncio.Queue[CacheChanged] = asyncio.Queue()

    async def on_change(msg: Msg) -> None:
        await notices.put(decode(CacheChanged, msg.data, msg.headers))

    await nc.subscribe(bus.CACHE_CHANGED_SUBJECTS, cb=on_change)
    await nc.flush()
    try:
        assert (await api.delete(f"/api/v1/instances/{iid}/cache", headers=READ)).status_code == 403
        cache = f"/api/v1/instances/{iid}/cache"
        res = await api.delete(cache, params={"api_path": "GetSuite"}, headers=ADMIN)
        assert res.status_code == 200
        assert res.json() == {"instance_id": iid, "api_path": "/external/server/GetSuite", "invalidated": 1}
        notice = await asyncio.wait_for(notices.get(), 5)
        assert notice == CacheChanged(instance_id=iid, cache_keys=[suite_key])
        valid = dict(await pg_conn.fetch("SELECT api_name, is_valid FROM vos_data_cache"))
        assert valid == {"GetSuite": False, "GetFeeRateGroup": True}

        # The next read fetches (the in-process copy is gone too).
        poller = await start_test_poller(lambda req: ok_result(req, SUITES))
        again = await api.post(f"/api/v1/vos-api/instances/{iid}/GetSuite", headers=READ)
        assert again.json()["data_source"] == "vos_api" and len(poller.requests) == 1

        everything = await api.delete(f"/api/v1/instances/{iid}/cache", headers=ADMIN)
        assert everything.json()["invalidated"] == 2
    finally:
        await nc.close()


async def test_sync_reports_each_outcome(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection, start_test_poller: StartTestPoller
) -> None:
    iid = await insert_instance(pg_conn)

    def answer(req: FetchRequest) -> object:
        if req.api_name == "GetSuite":
            return failed_result(req, ErrorKind.RET_CODE, "retCode -1", ret_code=-1)
        if req.api_name == "GetFeeRateGroup":
            return ("backing off", 503)
        return ok_result(req, {"retCode": 0})

    poller = await start_test_poller(answer)
    res = await api.post(
        f"/api/v1/instances/{iid}/sync",
        json={"apis": ["GetGatewayMapping", "GetSuite", "GetFeeRateGroup"]},
        headers=ADMIN,
    )
    assert res.status_code == 200, res.text
    results = {r["api_name"]: r for r in res.json()["results"]}
    assert results["GetGatewayMapping"]["ok"] is True and results["GetGatewayMapping"]["error"] is None
    assert results["GetGatewayMapping"]["duration_ms"] == 3.0  # the poller's VOS call time
    assert results["GetSuite"] == {
        "api_name": "GetSuite",
        "ok": False,
        "error_kind": "ret_code",
        "error": "retCode -1",
        "ret_code": -1,
        "duration_ms": results["GetSuite"]["duration_ms"],
    }
    assert results["GetFeeRateGroup"]["error_kind"] == "refused"
    assert "backing off" in results["GetFeeRateGroup"]["error"]
    assert {r.reason for r in poller.requests} == {FetchReason.SYNC}

    default = await api.post(f"/api/v1/instances/{iid}/sync", headers=ADMIN)
    scheduled = {r["api_name"] for r in default.json()["results"]}
    assert scheduled == {
        "GetGatewayMappingOnline", "GetGatewayRoutingOnline", "GetGatewayMapping", "GetGatewayRouting",
        "GetAllPhoneOnline", "GetFeeRateGroup", "GetSuite",
    }  # fmt: skip


async def test_sync_refusals(api: httpx.AsyncClient, pg_conn: asyncpg.Connection) -> None:
    iid = await insert_instance(pg_conn)
    sync = f"/api/v1/instances/{iid}/sync"
    assert (await api.post(sync, json={"apis": ["DeleteGatewayMapping"]}, headers=ADMIN)).status_code == 403
    assert (await api.post(sync, json={"apis": ["GetNoSuchThing"]}, headers=ADMIN)).status_code == 404
    assert (await api.post(sync, json={"apis": "GetSuite"}, headers=ADMIN)).status_code == 400
    assert (await api.post(sync, json={}, headers=READ)).status_code == 403
    assert (await api.post(f"/api/v1/instances/{iid + 1}/sync", headers=ADMIN)).status_code == 404
    no_poller = await api.post(sync, json={"apis": ["GetSuite"]}, headers=ADMIN)
    assert no_poller.json()["results"][0]["error_kind"] == "unavailable"
