"""The gateway list from memory: served from the api's in-process copy until a change note for the
instance arrives (changed data or a confirmed-unchanged poll), with age_s computed per request."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from tests.integration.api.conftest import READ, insert_cache_row, insert_instance, note_cache_changed
from tests.integration.api.test_gateways import insert_gateway
from vosync.shared.messages import CacheChanged
from vosync.shared.settings import Settings


async def eventually(api: httpx.AsyncClient, path: str, params: dict[str, str], want: int) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + 5
    while True:
        body: dict[str, Any] = (await api.get(path, params=params, headers=READ)).json()
        if body["total"] == want:
            return body
        assert asyncio.get_running_loop().time() < deadline, f"still {body['total']} rows, want {want}"
        await asyncio.sleep(0.02)


async def test_list_is_served_from_memory_until_a_change_note(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection, api_settings: Settings
) -> None:
    iid = await insert_instance(pg_conn, "vos-a")
    online_at = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=20)
    for name in ("gw-a", "gw-b"):
        await insert_gateway(pg_conn, iid, "mapping", name, online=True, online_synced_at=online_at)
    path = f"/api/v1/instances/{iid}/gateways"
    params = {"type": "mapping", "limit": "100"}
    first = (await api.get(path, params=params, headers=READ)).json()
    assert first["total"] == 2 and [g["gateway_name"] for g in first["items"]] == ["gw-a", "gw-b"]
    assert first["counts"]["mapping"] == {"total": 2, "online": 2, "offline": 0}

    # A row added behind the api's back: the held reply still answers, its age_s still moves.
    await insert_gateway(pg_conn, iid, "mapping", "gw-c", online=False, online_synced_at=online_at)
    await asyncio.sleep(0.3)
    held = (await api.get(path, params=params, headers=READ)).json()
    assert held["total"] == 2 and held["items"] == first["items"] and held["counts"] == first["counts"]
    assert held["online_synced_at"] == first["online_synced_at"]
    assert held["age_s"] >= first["age_s"] + 0.25  # computed at read time, not frozen
    # The same query spelled differently (q empty, parameters reordered) is the same entry.
    same = (await api.get(path, params={"limit": "100", "q": "", "type": "mapping"}, headers=READ)).json()
    assert same["total"] == 2

    # The writer's change note for another instance leaves this one's lists alone…
    other = await insert_instance(pg_conn, "vos-b")
    await note_cache_changed(api_settings, CacheChanged(instance_id=other, cache_keys=["k"]))
    await asyncio.sleep(0.2)
    assert (await api.get(path, params=params, headers=READ)).json()["total"] == 2
    # …its note for this instance brings the new rows, exact counts included.
    await note_cache_changed(api_settings, CacheChanged(instance_id=iid, cache_keys=["k"]))
    after = await eventually(api, path, params, 3)
    assert after["counts"]["mapping"] == {"total": 3, "online": 2, "offline": 1}
    assert [g["gateway_name"] for g in after["items"]] == ["gw-a", "gw-b", "gw-c"]


async def test_a_confirmed_unchanged_poll_refreshes_synced_at(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection, api_settings: Settings
) -> None:
    iid = await insert_instance(pg_conn, "vos-a")
    await insert_gateway(pg_conn, iid, "mapping", "gw-a", online=True)
    await insert_cache_row(pg_conn, iid, "GetGatewayMappingOnline", {"retCode": 0}, age_s=40)
    path = f"/api/v1/instances/{iid}/gateways"
    first = (await api.get(path, headers=READ)).json()
    assert first["age_s"] >= 40
    # The poll confirmed the same reply: only synced_at moved, and the note says just that.
    await pg_conn.execute("UPDATE vos_data_cache SET synced_at = now() WHERE vos_instance_id = $1", iid)
    await note_cache_changed(api_settings, CacheChanged(instance_id=iid, cache_keys=[], synced_keys=["k"]))
    deadline = asyncio.get_running_loop().time() + 5
    while (await api.get(path, headers=READ)).json()["age_s"] >= 40:
        assert asyncio.get_running_loop().time() < deadline, "synced_at stayed frozen"
        await asyncio.sleep(0.02)


async def test_bad_list_queries_are_still_refused(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection
) -> None:
    iid = await insert_instance(pg_conn, "vos-a")
    for params in ({"limit": "0"}, {"type": "nope"}, {"sort": "password"}, {"offset": "-1"}):
        res = await api.get(f"/api/v1/instances/{iid}/gateways", params=params, headers=READ)
        assert res.status_code == 400, (params, res.text)
        assert res.json()["detail"]


async def test_list_etag_304_and_gzip(api: httpx.AsyncClient, pg_conn: asyncpg.Connection) -> None:
    import gzip
    import json

    iid = await insert_instance(pg_conn, "vos-a")
    for i in range(40):
        await insert_gateway(pg_conn, iid, "mapping", f"gw-{i:02}", online=i % 2 == 0)
    path = f"/api/v1/instances/{iid}/gateways"
    plain = await api.get(path, headers={**READ, "Accept-Encoding": "identity"})
    etag = plain.headers["etag"]
    assert "content-encoding" not in plain.headers and plain.headers["vary"] == "Accept-Encoding"
    cached = await api.get(path, headers={**READ, "If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b""
    async with api.stream("GET", path, headers={**READ, "Accept-Encoding": "gzip"}) as res:
        packed = b"".join([chunk async for chunk in res.aiter_raw()])
    assert res.headers["content-encoding"] == "gzip" and len(packed) < len(plain.content) / 2
    unpacked = json.loads(gzip.decompress(packed))
    assert {k: v for k, v in unpacked.items() if k != "age_s"} == {
        k: v for k, v in plain.json().items() if k != "age_s"
    }
    assert unpacked["total"] == 40 and len(unpacked["items"]) == 40
