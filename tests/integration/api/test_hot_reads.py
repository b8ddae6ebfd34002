"""The hot reads answered in front of Litestar (vosync/api/hot_reads.py): a held gateway page and a
fresh cached proxy read give the same status, headers and body as Litestar gives for the same
entry, masking and auth included; whatever the hot path cannot prove goes to Litestar whole."""

from __future__ import annotations

import gzip
import json
from typing import Any

import asyncpg
import httpx

from tests.integration.api.conftest import ADMIN, READ, insert_cache_row, insert_instance
from tests.integration.api.test_gateways import insert_gateway
from vosync.api.hot_reads import GATEWAYS_ROUTE, PROXY_ROUTE
from vosync.api.service import ApiService
from vosync.shared.settings import Settings

SECRET_REPLY = {
    "retCode": 0,
    "infoGatewayMappings": [{"name": f"gw-{i}", "password": f"pw{i}"} for i in range(200)],
}


class Counted:
    """Counts the requests that reach Litestar behind the hot path (passes each on unchanged)."""

    def __init__(self, service: ApiService) -> None:
        self.paths: list[str] = []
        inner = service.asgi.app

        async def app(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                self.paths.append(scope["path"])
            await inner(scope, receive, send)

        service.asgi.app = app


def comparable(res: httpx.Response) -> tuple[int, dict[str, str], Any]:
    """Status, headers and JSON body, without age_s (computed per request) and the length it sets."""
    if "content-encoding" not in res.headers:  # httpx asks for gzip and unpacks it
        assert int(res.headers.get("content-length", "0")) == len(res.content)
    headers = {k: v for k, v in res.headers.items() if k != "content-length"}
    body = res.json() if res.content else None
    if isinstance(body, dict):
        body.pop("age_s", None)
    return res.status_code, headers, body


async def raw_get(api: httpx.AsyncClient, url: str, headers: dict[str, str]) -> tuple[httpx.Response, bytes]:
    async with api.stream("GET", url, headers=headers) as res:
        return res, b"".join([chunk async for chunk in res.aiter_raw()])


async def test_held_gateway_page_is_the_reply_litestar_gives(
    api: httpx.AsyncClient, api_service: ApiService, pg_conn: asyncpg.Connection
) -> None:
    iid = await insert_instance(pg_conn)
    for i in range(60):
        await insert_gateway(pg_conn, iid, "mapping" if i % 2 else "routing", f"gw-{i:02}", online=i % 3 == 0)
    page = f"/api/v1/instances/{iid}/gateways?type=mapping&limit=20&offset=5&sort=-name"
    # The same query spelled so that only Litestar reads it (an empty pair, an escaped value).
    litestar_page = f"/api/v1/instances/{iid}/gateways?type=mapping&limit=20&&offset=5&sort=%2Dname"
    first = await api.get(page, headers=READ)  # a miss: Litestar loads and holds it
    assert first.status_code == 200 and first.json()["total"] == 30
    counted = Counted(api_service)

    hot = await api.get(page, headers=READ)
    slow = await api.get(litestar_page, headers=READ)
    assert counted.paths == [f"/api/v1/instances/{iid}/gateways"]  # only the escaped one reached it
    assert comparable(hot) == comparable(slow) == comparable(first)
    assert [g["gateway_name"] for g in hot.json()["items"]][:2] == ["gw-49", "gw-47"]
    assert hot.json()["counts"]["mapping"] == {"total": 30, "online": 10, "offline": 20}

    # gzip and 304, from the hot path, as Litestar answers them.
    gz_headers = {**READ, "Accept-Encoding": "gzip"}
    hot_gz, hot_packed = await raw_get(api, page, gz_headers)
    slow_gz, slow_packed = await raw_get(api, litestar_page, gz_headers)
    assert hot_gz.headers["content-encoding"] == slow_gz.headers["content-encoding"] == "gzip"
    assert int(hot_gz.headers["content-length"]) == len(hot_packed)
    assert json.loads(gzip.decompress(hot_packed)).keys() == json.loads(gzip.decompress(slow_packed)).keys()
    etag = hot.headers["etag"]
    not_modified = await api.get(page, headers={**READ, "If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert comparable(not_modified) == comparable(
        await api.get(litestar_page, headers={**READ, "If-None-Match": etag})
    )
    assert len(counted.paths) == 3

    # Counted in the request metrics under the route's own template, like the Litestar-served ones.
    metrics = (await api.get("/metrics")).text
    sample = f'vosync_api_requests_total{{method="GET",route="{GATEWAYS_ROUTE}",status="200"}} 5.0'
    assert sample in metrics, [line for line in metrics.splitlines() if "gateways" in line]


async def test_hot_gateway_page_keeps_auth(
    api: httpx.AsyncClient, api_service: ApiService, pg_conn: asyncpg.Connection
) -> None:
    iid = await insert_instance(pg_conn)
    await insert_gateway(pg_conn, iid, "mapping", "gw-1", online=True)
    page = f"/api/v1/instances/{iid}/gateways"
    assert (await api.get(page, headers=READ)).status_code == 200  # held from now on
    counted = Counted(api_service)
    assert (await api.get(page, headers=ADMIN)).status_code == 200
    assert counted.paths == []
    for headers in ({}, {"X-API-Key": "not-a-key"}):
        refused = await api.get(page, headers=headers)
        assert refused.status_code == 401 and "X-API-Key" in refused.json()["detail"]
    assert len(counted.paths) == 2
    # An unknown instance, a bad query: Litestar's answers, not the hot path's.
    assert (await api.get(f"/api/v1/instances/{iid + 999}/gateways", headers=READ)).status_code == 404
    bad = await api.get(page, params={"limit": "0"}, headers=READ)
    assert bad.status_code == 400 and "limit" in bad.text
    assert len(counted.paths) == 4


async def test_fresh_proxy_read_is_the_reply_litestar_gives(
    api: httpx.AsyncClient, api_service: ApiService, pg_conn: asyncpg.Connection
) -> None:
    iid = await insert_instance(pg_conn)
    await insert_cache_row(pg_conn, iid, "GetGatewayMapping", SECRET_REPLY)
    url = f"/api/v1/vos-api/instances/{iid}/GetGatewayMapping"
    assert (await api.post(url, json={}, headers=READ)).json()["data_source"] == "database"
    counted = Counted(api_service)
    for key in (READ, ADMIN):
        hot = await api.post(url, json={}, headers=key)
        # `{"names": []}` keys as `{}`: the same entry, read by Litestar.
        slow = await api.post(url, json={"names": []}, headers=key)
        assert comparable(hot) == comparable(slow)
        passwords = {g["password"] for g in hot.json()["data"]["infoGatewayMappings"]}
        assert passwords == ({"***"} if key is READ else {f"pw{i}" for i in range(200)}), key
        gz = await api.post(url, json={}, headers={**key, "Accept-Encoding": "gzip"})
        assert gz.headers["content-encoding"] == "gzip" and gz.headers["etag"] == hot.headers["etag"]
        assert gz.json()["data"] == hot.json()["data"]
        again = await api.post(url, json={}, headers={**key, "If-None-Match": hot.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
    assert counted.paths == [url, url]  # only the `{"names": []}` reads
    metrics = (await api.get("/metrics")).text
    assert f'vosync_api_requests_total{{method="POST",route="{PROXY_ROUTE}",status="200"}} 7.0' in metrics
    # Every reply counted by source (the 304s too, as Litestar's route counts them); one miss, the first.
    assert 'vosync_api_proxy_replies_total{data_source="database"} 9.0' in metrics
    assert 'vosync_api_hot_cache_lookups_total{result="hit"} 8.0' in metrics


async def test_bodies_the_hot_path_declines_reach_litestar_whole(
    api: httpx.AsyncClient, api_service: ApiService, pg_conn: asyncpg.Connection, api_settings: Settings
) -> None:
    iid = await insert_instance(pg_conn)
    await insert_cache_row(pg_conn, iid, "GetGatewayMapping", SECRET_REPLY)
    url = f"/api/v1/vos-api/instances/{iid}/GetGatewayMapping"
    assert (await api.post(url, json={}, headers=READ)).status_code == 200
    counted = Counted(api_service)
    headers = {**READ, "Content-Type": "application/json"}
    small = b'{"names": []}'  # read by the hot path, declined, replayed
    large = b'{"names": []' + b" " * 200 + b"}"  # over what the hot path reads
    for body in (small, large):
        res = await api.post(url, content=body, headers=headers)
        assert res.status_code == 200 and len(res.json()["data"]["infoGatewayMappings"]) == 200
    broken = await api.post(url, content=b"{", headers=headers)
    assert broken.status_code == 400, broken.text
    too_big = await api.post(url, content=b" " * (api_settings.api_max_body_bytes + 1), headers=headers)
    assert too_big.status_code in (400, 413), too_big.text
    refresh = await api.post(url, params={"refresh": "false"}, json={}, headers=READ)
    assert refresh.status_code == 200 and refresh.json()["data_source"] == "database"
    assert len(counted.paths) == 5
