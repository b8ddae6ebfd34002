"""Gateway reads: the list contract the gateway page depends on, filters, sorting, paging, counts,
one gateway with secrets masked for read keys, and the summary across instances."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from tests.integration.api.conftest import (
    ADMIN,
    BAD_LIST_QUERIES,
    READ,
    assert_each_query_is_400,
    insert_cache_row,
    insert_instance,
)

ITEM_KEYS = {
    "gateway_type",
    "gateway_name",
    "ip_address",
    "ip_source",
    "remote_ips",
    "port",
    "protocol",
    "is_online",
    "asr",
    "acd",
    "concurrent_calls",
    "capacity",
    "prefix",
    "register_type",
    "in_config",
    "online_changed_at",
    "synced_at",
    "online_synced_at",
    "uptime_24h",
    "flaps_24h",
}


async def insert_gateway(
    conn: asyncpg.Connection,
    instance_id: int,
    gateway_type: str,
    name: str,
    *,
    ip: str | None = None,
    remote_ips: list[str] | None = None,
    online: bool = False,
    asr: float | None = None,
    acd: float | None = None,
    calls: int | None = None,
    raw: dict[str, Any] | None = None,
    synced_at: datetime | None = None,
    online_synced_at: datetime | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO gateway_rows (vos_instance_id, gateway_type, gateway_name, in_config, ip_address,
               remote_ips, is_online, asr, acd, concurrent_calls, config_data, synced_at, online_synced_at)
           VALUES ($1, $2, $3, true, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12)""",
        instance_id,
        gateway_type,
        name,
        ip,
        remote_ips,
        online,
        asr,
        acd,
        calls,
        json.dumps(raw or {}),
        synced_at,
        online_synced_at,
    )


async def seed(conn: asyncpg.Connection) -> tuple[int, int, datetime]:
    now = datetime.now(UTC).replace(microsecond=0)
    a = await insert_instance(conn, "vos-a")
    b = await insert_instance(conn, "vos-b")
    config_at, online_at = now - timedelta(minutes=5), now - timedelta(seconds=20)
    rows = [
        ("mapping", "cust-alpha", "10.0.0.1", ["10.0.0.1", "10.0.0.9"], True, 0.5, 30.0, 4),
        ("mapping", "cust-beta", "10.0.0.2", ["10.0.0.2"], False, None, None, None),
        ("mapping", "cust_50%", "192.168.1.7", ["192.168.1.7"], True, 0.9, 10.0, 1),
        ("routing", "carrier-x", "172.16.0.1", None, True, 0.7, 60.0, 9),
        ("routing", "carrier-y", "172.16.0.2", None, False, 0.1, 5.0, 0),
    ]
    for gw_type, name, ip, remote, online, asr, acd, calls in rows:
        await insert_gateway(
            conn,
            a,
            gw_type,
            name,
            ip=ip,
            remote_ips=remote,
            online=online,
            asr=asr,
            acd=acd,
            calls=calls,
            raw={"name": name, "password": "pw", "customerPassword": "cpw", "memo": "m"},
            synced_at=config_at,
            online_synced_at=online_at,
        )
    await insert_gateway(conn, b, "mapping", "other", online=True)
    return a, b, online_at


def names(body: dict[str, Any]) -> list[str]:
    return [item["gateway_name"] for item in body["items"]]


async def test_list_contract_counts_and_freshness(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection
) -> None:
    a, _, online_at = await seed(pg_conn)
    res = await api.get(f"/api/v1/instances/{a}/gateways", headers=READ)
    assert res.status_code == 200
    body = res.json()
    assert set(body) == {
        "instance_id",
        "instance_name",
        "total",
        "limit",
        "offset",
        "counts",
        "synced_at",
        "online_synced_at",
        "age_s",
        "items",
    }
    assert body["instance_id"] == a and body["instance_name"] == "vos-a"
    assert body["total"] == 5 and body["limit"] == 100 and body["offset"] == 0
    assert body["counts"] == {
        "mapping": {"total": 3, "online": 2, "offline": 1},
        "routing": {"total": 2, "online": 1, "offline": 1},
    }
    assert datetime.fromisoformat(body["online_synced_at"]) == online_at
    config_at = online_at + timedelta(seconds=20) - timedelta(minutes=5)  # as seeded
    assert datetime.fromisoformat(body["synced_at"]) == config_at
    assert 20 <= body["age_s"] < 120
    assert all(set(item) == ITEM_KEYS for item in body["items"])
    assert names(body) == ["carrier-x", "carrier-y", "cust-alpha", "cust-beta", "cust_50%"]
    alpha = next(i for i in body["items"] if i["gateway_name"] == "cust-alpha")
    assert alpha["remote_ips"] == ["10.0.0.1", "10.0.0.9"] and alpha["is_online"] is True
    assert alpha["asr"] == 0.5 and alpha["concurrent_calls"] == 4 and alpha["in_config"] is True


async def test_freshness_is_the_last_successful_fetch_not_the_last_change(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection
) -> None:
    """An unchanged poll moves no gateway row, but the table is fresh: the cache rows say so."""
    a, _, online_at = await seed(pg_conn)
    await insert_cache_row(pg_conn, a, "GetGatewayMappingOnline", {"retCode": 0}, age_s=3)
    await insert_cache_row(pg_conn, a, "GetGatewayRoutingOnline", {"retCode": 0}, age_s=4)
    await insert_cache_row(pg_conn, a, "GetGatewayRouting", {"retCode": 0}, age_s=50)
    body = (await api.get(f"/api/v1/instances/{a}/gateways", headers=READ)).json()
    assert body["age_s"] < 15  # not the 20 s of the rows' online_synced_at
    assert datetime.fromisoformat(body["online_synced_at"]) > online_at
    routing = (await api.get(f"/api/v1/instances/{a}/gateways?type=routing", headers=READ)).json()
    assert 3 <= routing["age_s"] < 15
    assert 40 <= (datetime.now(UTC) - datetime.fromisoformat(routing["synced_at"])).total_seconds() < 70


async def test_filters_search_sort_and_paging(api: httpx.AsyncClient, pg_conn: asyncpg.Connection) -> None:
    a, _, _ = await seed(pg_conn)
    base = f"/api/v1/instances/{a}/gateways"

    async def get(**params: Any) -> dict[str, Any]:
        res = await api.get(base, params=params, headers=READ)
        assert res.status_code == 200, res.text
        body: dict[str, Any] = res.json()
        return body

    mapping_online = await get(type="mapping", online="true")
    assert names(mapping_online) == ["cust-alpha", "cust_50%"] and mapping_online["total"] == 2
    assert mapping_online["counts"]["mapping"]["total"] == 3  # counts ignore the filters
    offline = await get(online="false")
    assert names(offline) == ["carrier-y", "cust-beta"] and offline["total"] == 2
    assert (await get(type="routing"))["total"] == 2
    assert (await get(type="routing", online="true"))["total"] == 1
    assert names(await get(q="ALPHA")) == ["cust-alpha"]
    assert (await get(q="172.16", online="false"))["total"] == 1  # a search is counted by its own query
    assert names(await get(q="10.0.0.9")) == ["cust-alpha"]  # any of the remote IPs
    assert names(await get(q="172.16")) == ["carrier-x", "carrier-y"]
    assert names(await get(q="_50%")) == ["cust_50%"]  # wildcards are literal
    assert names(await get(q="%")) == ["cust_50%"]
    assert names(await get(sort="-asr")) == ["cust_50%", "carrier-x", "cust-alpha", "carrier-y", "cust-beta"]
    assert names(await get(sort="asr"))[-1] == "cust-beta"  # nulls last both ways
    assert names(await get(sort="-concurrent_calls"))[0] == "carrier-x"
    assert names(await get(sort="-is_online"))[:3] == ["carrier-x", "cust-alpha", "cust_50%"]
    assert names(await get(sort="ip_address"))[0] == "cust-alpha"
    assert names(await get(sort="-name"))[0] == "cust_50%"
    page = await get(limit=2, offset=2)
    assert names(page) == ["cust-alpha", "cust-beta"] and page["total"] == 5 and page["limit"] == 2
    beyond = await get(offset=50)
    assert beyond["items"] == [] and beyond["total"] == 5


async def test_bad_query_values_are_400(api: httpx.AsyncClient, pg_conn: asyncpg.Connection) -> None:
    a = await insert_instance(pg_conn)
    base = f"/api/v1/instances/{a}/gateways"
    await assert_each_query_is_400(api, base, ({"type": "trunk"}, {"sort": "password"}, *BAD_LIST_QUERIES))
    assert (await api.get(f"/api/v1/instances/{a + 7}/gateways", headers=READ)).status_code == 404
    assert (await api.get(base)).status_code == 401


async def test_one_gateway_with_secrets_masked_for_read(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection
) -> None:
    a, _, _ = await seed(pg_conn)
    path = f"/api/v1/instances/{a}/gateways/mapping/cust-alpha"
    read = (await api.get(path, headers=READ)).json()
    assert read["gateway_name"] == "cust-alpha" and read["instance_name"] == "vos-a"
    masked: dict[str, object] = {"name": "cust-alpha", "password": "***", "customerPassword": "***"}
    masked |= {"memo": "m"}
    # The raw items (migration 0006), masked too: the config item, no online item (offline).
    masked |= {"_data_sources": {"config": dict(masked), "online": None}}
    assert read["raw_data"] == masked
    admin = (await api.get(path, headers=ADMIN)).json()
    assert admin["raw_data"]["password"] == "pw" and admin["raw_data"]["customerPassword"] == "cpw"
    missing = await api.get(f"/api/v1/instances/{a}/gateways/routing/cust-alpha", headers=READ)
    assert missing.status_code == 404 and "cust-alpha" in missing.json()["detail"]
    assert (await api.get(f"/api/v1/instances/{a}/gateways/trunk/x", headers=READ)).status_code == 400


async def test_summary_across_instances(api: httpx.AsyncClient, pg_conn: asyncpg.Connection) -> None:
    a, b, _ = await seed(pg_conn)
    empty = await insert_instance(pg_conn, "vos-empty")
    body = (await api.get("/api/v1/gateways/summary", headers=READ)).json()
    by_id = {item["instance_id"]: item for item in body["instances"]}
    assert by_id[a]["mapping"] == {"total": 3, "online": 2, "offline": 1}
    assert by_id[a]["routing"] == {"total": 2, "online": 1, "offline": 1}
    assert by_id[a]["total"] == {"total": 5, "online": 3, "offline": 2}
    assert by_id[b]["total"] == {"total": 1, "online": 1, "offline": 0}
    assert by_id[b]["instance_name"] == "vos-b"
    assert by_id[empty]["total"] == {"total": 0, "online": 0, "offline": 0}
    assert body["totals"]["total"] == {"total": 6, "online": 4, "offline": 2}
    assert body["totals"]["mapping"] == {"total": 4, "online": 3, "offline": 1}
