"""Cached proxy replies compressed once and validated: gzip when the client accepts it (the same
bytes as the plain reply, once decompressed), a weak ETag per caller's view, 304 on If-None-Match."""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from typing import Any

import asyncpg
import httpx

from tests.integration.api.conftest import (
    ADMIN,
    READ,
    insert_cache_row,
    insert_instance,
    note_cache_changed,
)
from vosync.shared.messages import CacheChanged
from vosync.shared.settings import Settings

BIG = {
    "retCode": 0,
    "infoGatewayMappings": [
        {"name": f"gw-{i}", "password": f"pw{i}", "remoteIps": f"10.0.{i // 250}.{i % 250}"}
        for i in range(2000)
    ],
}
URL = "/api/v1/vos-api/instances/{}/GetGatewayMapping"


async def raw(api: httpx.AsyncClient, url: str, headers: dict[str, str]) -> tuple[httpx.Response, bytes]:
    """The reply and its bytes as sent (httpx would decompress them)."""
    async with api.stream("POST", url, json={}, headers=headers) as res:
        body = b"".join([chunk async for chunk in res.aiter_raw()])
    return res, body


def without_age(reply: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in reply.items() if k != "age_s"}


async def test_large_cached_reply_is_gzip_when_accepted(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection
) -> None:
    iid = await insert_instance(pg_conn)
    await insert_cache_row(pg_conn, iid, "GetGatewayMapping", BIG)
    url = URL.format(iid)
    plain_res, plain = await raw(api, url, {**READ, "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain_res.headers and plain_res.headers["vary"] == "Accept-Encoding"
    assert int(plain_res.headers["content-length"]) == len(plain)
    for accept in ("gzip", "br, gzip;q=0.5", "*"):
        res, packed = await raw(api, url, {**READ, "Accept-Encoding": accept})
        assert res.status_code == 200 and res.headers["content-encoding"] == "gzip", accept
        assert int(res.headers["content-length"]) == len(packed)
        assert len(packed) <= 0.2 * len(plain), (len(packed), len(plain))
        # One gzip member, complete, that any decoder reads: the stdlib's and zlib's strict one.
        strict = zlib.decompressobj(16 + zlib.MAX_WBITS)
        unpacked = strict.decompress(packed)
        assert strict.eof and not strict.unused_data and unpacked == gzip.decompress(packed)
        assert without_age(json.loads(unpacked)) == without_age(json.loads(plain))
    masked = json.loads(gzip.decompress((await raw(api, url, {**READ, "Accept-Encoding": "gzip"}))[1]))
    admin = json.loads(gzip.decompress((await raw(api, url, {**ADMIN, "Accept-Encoding": "gzip"}))[1]))
    assert masked["data"]["infoGatewayMappings"][7]["password"] == "***"
    assert admin["data"] == BIG
    # Refused gzip, or a small reply: plain.
    for accept in ("gzip;q=0", "identity", "deflate"):
        res, _ = await raw(api, url, {**READ, "Accept-Encoding": accept})
        assert "content-encoding" not in res.headers, accept
    await insert_cache_row(pg_conn, iid, "GetSuite", {"retCode": 0, "infoSuites": []})
    small, _ = await raw(
        api, f"/api/v1/vos-api/instances/{iid}/GetSuite", {**READ, "Accept-Encoding": "gzip"}
    )
    assert "content-encoding" not in small.headers and "vary" not in small.headers


async def test_etag_and_if_none_match_answer_304_until_the_data_changes(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection, api_settings: Settings
) -> None:
    iid = await insert_instance(pg_conn)
    key = await insert_cache_row(pg_conn, iid, "GetGatewayMapping", BIG)
    url = URL.format(iid)
    first = await api.post(url, json={}, headers=READ)
    etag = first.headers["etag"]
    assert etag.startswith('W/"') and (await api.post(url, json={}, headers=READ)).headers["etag"] == etag
    assert (await api.post(url, json={}, headers=ADMIN)).headers["etag"] != etag  # another view
    for header in (etag, f'"other", {etag}', etag.removeprefix("W/"), "*"):
        cached = await api.post(url, json={}, headers={**READ, "If-None-Match": header})
        assert cached.status_code == 304 and cached.content == b"", header
        assert cached.headers["etag"] == etag
    assert (await api.post(url, json={}, headers={**READ, "If-None-Match": '"nope"'})).status_code == 200

    # New data for the key: the old tag no longer matches.
    await pg_conn.execute(
        "UPDATE vos_data_cache SET response_data = $2::jsonb, synced_at = now() WHERE cache_key = $1",
        key,
        json.dumps({"retCode": 0, "infoGatewayMappings": []}),
    )
    await note_cache_changed(api_settings, CacheChanged(instance_id=iid, cache_keys=[key]))
    deadline = asyncio.get_running_loop().time() + 5
    while True:
        res = await api.post(url, json={}, headers={**READ, "If-None-Match": etag})
        if res.status_code == 200:
            break
        assert asyncio.get_running_loop().time() < deadline, "the old ETag still matched"
        await asyncio.sleep(0.02)
    assert res.json()["data"] == {"retCode": 0, "infoGatewayMappings": []} and res.headers["etag"] != etag
