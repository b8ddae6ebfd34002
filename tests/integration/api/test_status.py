"""GET /api/v1/status on real NATS + PostgreSQL: rows as the writer leaves them, heartbeats and
leases as pollers write them, results waiting on VOS_RESULTS with no writer to take them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import nats
import pytest

from tests.integration.api.conftest import READ, insert_instance
from vosync.shared import bus
from vosync.shared.cache_key import cache_key
from vosync.shared.catalogue import API_PATH_PREFIX
from vosync.shared.heartbeat import VosView, vos_views_json
from vosync.shared.settings import Settings

NOW = datetime.now(UTC)  # set again as each test starts: the ages asserted are relative to it


@pytest.fixture(autouse=True)
def _now_is_the_test_start() -> None:
    # Not the module's import time: in a full run the tests start minutes after collection.
    global NOW
    NOW = datetime.now(UTC)


async def cache_row(
    conn: asyncpg.Connection,
    instance_id: int,
    api_name: str,
    *,
    synced_at: datetime | None,
    error_kind: str | None = None,
    error_message: str | None = None,
    params: dict[str, str] | None = None,
) -> None:
    path = API_PATH_PREFIX + api_name
    await conn.execute(
        """INSERT INTO vos_data_cache (vos_instance_id, api_path, api_name, cache_key, query_params,
               response_data, is_valid, synced_at, last_attempt_at, last_error_at, error_kind,
               error_message)
           VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8, now(), $9, $10, $11)""",
        instance_id,
        path,
        api_name,
        cache_key(path, params or {}),
        json.dumps(params or {}),
        json.dumps({"retCode": 0}) if synced_at else None,
        synced_at is not None,
        synced_at,
        NOW if error_kind else None,
        error_kind,
        error_message,
    )


async def gateway(conn: asyncpg.Connection, instance_id: int, name: str, online: bool) -> None:
    await conn.execute(
        "INSERT INTO gateways (vos_instance_id, gateway_type, gateway_name, is_online)"
        " VALUES ($1, 'mapping', $2, $3)",
        instance_id,
        name,
        online,
    )


async def seed(conn: asyncpg.Connection) -> dict[str, int]:
    ids = {name: await insert_instance(conn, name) for name in ("healthy", "broken", "new")}
    ids["off"] = await insert_instance(conn, "off", enabled=False)
    config_old, online_old = NOW - timedelta(seconds=90), NOW - timedelta(seconds=4)
    for name, at in (
        ("GetGatewayMapping", config_old),
        ("GetGatewayRouting", NOW - timedelta(seconds=30)),
        ("GetGatewayMappingOnline", online_old),
        ("GetGatewayRoutingOnline", NOW - timedelta(seconds=2)),
    ):
        await cache_row(conn, ids["healthy"], name, synced_at=at)
    # An on-demand query that failed says nothing about VOS.
    await cache_row(
        conn, ids["healthy"], "GetGatewayMapping", synced_at=None, error_kind="ret_code", params={"x": "1"}
    )
    await cache_row(
        conn,
        ids["broken"],
        "GetGatewayMappingOnline",
        synced_at=NOW - timedelta(seconds=300),
        error_kind="connect",
        error_message="connection refused",
    )
    await cache_row(conn, ids["broken"], "GetSuite", synced_at=NOW - timedelta(seconds=10))
    await gateway(conn, ids["healthy"], "a", True)
    await gateway(conn, ids["healthy"], "b", False)
    await gateway(conn, ids["healthy"], "c", True)
    for published, dead in ((None, None), (None, None), (NOW, None), (None, NOW)):
        await conn.execute(
            """INSERT INTO gateway_event_outbox (vos_instance_id, gateway_type, gateway_name, is_online,
                   changed_at, payload, published_at, dead_at)
               VALUES ($1, 'mapping', 'a', true, now(), '{}'::jsonb, $2, $3)""",
            ids["healthy"],
            published,
            dead,
        )
    return ids


def by_name(reply: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["name"]: i for i in reply["instances"]}


async def test_status_from_the_database_alone(api: httpx.AsyncClient, pg_conn: asyncpg.Connection) -> None:
    await seed(pg_conn)
    assert (await api.get("/api/v1/status")).status_code == 401
    reply = (await api.get("/api/v1/status", headers=READ)).json()
    inst = by_name(reply)

    healthy = inst["healthy"]
    assert healthy["vos_state"] == "ok" and healthy["failing_apis"] == [] and healthy["last_error"] is None
    assert 89 <= healthy["config_age_s"] <= 150  # the older of the two config lists
    assert 3 <= healthy["online_age_s"] <= 60
    assert (healthy["gateways_online"], healthy["gateways_total"]) == (2, 3)

    broken = inst["broken"]
    assert broken["vos_state"] == "failing" and broken["state_source"] == "database"
    since = datetime.fromisoformat(broken["failing_since"])
    assert abs((since - (NOW - timedelta(seconds=300))).total_seconds()) < 1  # the last success
    assert broken["failing_apis"] == ["GetGatewayMappingOnline"]
    assert broken["last_error"] == "GetGatewayMappingOnline: connection refused"
    assert broken["config_synced_at"] is None and broken["config_age_s"] is None

    assert inst["new"]["vos_state"] == "no_data" and inst["new"]["gateways_total"] == 0
    assert inst["off"]["vos_state"] == "disabled"

    services = reply["services"]
    assert services["api"] == "ok" and services["problems"] == []
    assert services["pollers"] == {"up": 0, "ids": []}
    assert services["writers"]["outbox_backlog"] == 2  # unpublished and not set aside
    assert services["writers"]["up"] is False  # no writer ever made its consumer


async def test_status_reads_the_lease_holders_heartbeat_and_the_writers_lag(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection, api_settings: Settings
) -> None:
    ids = await seed(pg_conn)
    healthy, broken = ids["healthy"], ids["broken"]
    started = (NOW - timedelta(seconds=42)).timestamp()
    nc = await nats.connect(api_settings.require_nats_url())
    try:
        js = nc.jetstream()
        leases = (await bus.ensure_buckets(js, api_settings))[bus.LEASES_BUCKET]
        await bus.ensure_writer_consumer(js, api_settings)
        holder = {
            "poller_id": "p-1",
            "pinned": None,
            "vos": vos_views_json(
                {
                    healthy: VosView(backing_off=True, failing_since=started, transport_failures=5),
                    broken: VosView(),
                }
            ),
        }
        # p-2 is alive but holds neither lease: what it thinks of `healthy` does not count.
        other = {"poller_id": "p-2", "pinned": None, "vos": vos_views_json({healthy: VosView()})}
        await leases.put(bus.lease_key(healthy), b"p-1")
        await leases.put(bus.lease_key(broken), b"p-1")
        await leases.put(bus.heartbeat_key("p-1"), json.dumps(holder).encode())
        await leases.put(bus.heartbeat_key("p-2"), json.dumps(other).encode())
        for n in range(3):  # results no writer takes
            await js.publish(bus.result_subject(healthy, "GetSuite"), f'{{"n": {n}}}'.encode())
    finally:
        await nc.close()

    reply = (await api.get("/api/v1/status", headers=READ)).json()
    inst = by_name(reply)
    assert inst["healthy"]["vos_state"] == "backing_off" and inst["healthy"]["state_source"] == "poller"
    since = datetime.fromisoformat(inst["healthy"]["failing_since"])
    assert abs(since.timestamp() - started) < 0.01
    assert inst["healthy"]["poller_id"] == "p-1"
    # The holder sees `broken` answering again, the database still has its failed call: failing.
    assert inst["broken"]["vos_state"] == "failing" and inst["broken"]["state_source"] == "database"
    assert inst["new"]["poller_id"] is None

    services = reply["services"]
    assert services["pollers"] == {"up": 2, "ids": ["p-1", "p-2"]}
    writers = services["writers"]
    assert writers["consumer_lag"] == 3 and writers["ack_pending"] == 0 and writers["pulls_waiting"] == 0
    assert writers["up"] is False and writers["outbox_backlog"] == 2
