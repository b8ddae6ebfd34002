"""The gateways table and the outbox from real VOS-shaped replies (through the batch transaction)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from tests.integration.writer.helpers import MAP, MAP_ON, ROUTE, ROUTE_ON, gateways
from vosync.shared.settings import Settings
from vosync.sim.replies import (
    at,
    failed,
    mapping_item,
    mapping_online_item,
    ok,
    reply,
    routing_item,
    routing_online_item,
)
from vosync.writer import apply, gateway_rows
from vosync.writer.apply import BatchApplier
from vosync.writer.db import create_pool


async def outbox(conn: asyncpg.Connection) -> list[tuple[str, str, bool, bool | None]]:
    rows = await conn.fetch(
        "SELECT gateway_type, gateway_name, is_online, previous FROM gateway_event_outbox ORDER BY id"
    )
    return [(r["gateway_type"], r["gateway_name"], r["is_online"], r["previous"]) for r in rows]


async def test_columns_come_from_the_real_vos_fields(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    await applier.apply(
        [
            ok(
                MAP,
                reply(MAP, [mapping_item("cust-a", 3, ips="10.1.1.1, 10.1.1.2", registerType=1, lockType=2)]),
                fetched_at=1,
            ),
            ok(
                ROUTE,
                reply(
                    ROUTE,
                    [
                        routing_item(
                            "carrier-x", 1, ip="172.16.0.9", protocol=1, signalPort=5080, prefix="86,0086"
                        )
                    ],
                ),
                fetched_at=1,
            ),
            ok(ROUTE, reply(ROUTE, []), fetched_at=0.5, params={"names": ["nobody"]}),
        ]
    )
    await applier.apply(
        [
            ok(
                MAP_ON,
                reply(MAP_ON, [mapping_online_item("cust-a", 3, currentCall=7, asr=0.55, acd=83)]),
                fetched_at=2,
            ),
            ok(ROUTE_ON, reply(ROUTE_ON, []), fetched_at=2),
        ]
    )
    rows = await gateways(pg_conn)
    mapping = rows[("mapping", "cust-a")]
    assert mapping["ip_address"] == "10.1.1.1" and mapping["remote_ips"] == ["10.1.1.1", "10.1.1.2"]
    assert mapping["register_type"] == 1 and mapping["lock_type"] == 2 and mapping["capacity"] == 200
    assert mapping["port"] is None and mapping["protocol"] is None and mapping["in_config"]
    assert mapping["is_online"] and mapping["concurrent_calls"] == 7
    assert mapping["asr"] == 0.55 and mapping["acd"] == 83.0
    assert mapping["online_changed_at"] == at(2) and mapping["synced_at"] == at(1)
    assert mapping["config_data"]["remoteIps"] == "10.1.1.1, 10.1.1.2"
    assert mapping["online_data"]["currentCall"] == 7
    raw = mapping["raw_data"]
    assert raw["accountName"] == "客户3" and raw["currentCall"] == 7 and raw["dtmfSendMethodSip"] == 1
    assert raw["remoteIps"] == "10.0.0.3"  # the online item's value wins in raw_data
    # The seed's shape: the raw items (migration 0006); which API and when, in data_sources.
    assert raw["_data_sources"] == {"config": mapping["config_data"], "online": mapping["online_data"]}
    assert raw["_data_sources"]["config"]["remoteIps"] == "10.1.1.1, 10.1.1.2"
    assert raw["_data_sources"]["online"]["currentCall"] == 7
    assert mapping["data_sources"] == {
        "config": {"api": MAP, "synced_at": "2026-03-01T12:00:01+00:00"},
        "online": {"api": MAP_ON, "synced_at": "2026-03-01T12:00:02+00:00"},
    }
    routing = rows[("routing", "carrier-x")]
    assert routing["ip_address"] == "172.16.0.9" and routing["remote_ips"] == ["172.16.0.9"]
    assert routing["port"] == 5080 and routing["protocol"] == "SIP" and routing["prefix"] == "86,0086"
    assert not routing["is_online"] and routing["online_synced_at"] == at(2)
    assert routing["data_sources"]["online"] == {
        "api": ROUTE_ON,
        "synced_at": "2026-03-01T12:00:02+00:00",
    }
    assert routing["raw_data"]["_data_sources"] == {"config": routing["config_data"], "online": None}
    assert await outbox(pg_conn) == [("mapping", "cust-a", True, None)]  # first seen online: an event


async def test_a_mapping_and_a_routing_gateway_may_share_a_name(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    await applier.apply(
        [
            ok(MAP, reply(MAP, [mapping_item("gw1", 1)]), fetched_at=1),
            ok(ROUTE, reply(ROUTE, [routing_item("gw1", 2, protocol=0)]), fetched_at=1),
        ]
    )
    rows = await gateways(pg_conn)
    assert set(rows) == {("mapping", "gw1"), ("routing", "gw1")}
    assert rows[("routing", "gw1")]["protocol"] == "H323" and rows[("routing", "gw1")]["port"] == 1720


async def test_removal_online_but_absent_and_online_only(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    await applier.apply(
        [ok(MAP, reply(MAP, [mapping_item(n, i) for i, n in enumerate("abc")]), fetched_at=1)]
    )
    await applier.apply(
        [ok(MAP_ON, reply(MAP_ON, [mapping_online_item("b", 1), mapping_online_item("z", 9)]), fetched_at=2)]
    )
    rows = await gateways(pg_conn)
    assert {n for _, n in rows} == {"a", "b", "c", "z"}
    assert not rows[("mapping", "z")]["in_config"] and rows[("mapping", "z")]["is_online"]
    assert rows[("mapping", "z")]["ip_address"] == "10.0.0.9"  # from the online item, no config
    # Config without a (offline → removed), b (online → kept, marked absent from config), z.
    await applier.apply([ok(MAP, reply(MAP, [mapping_item("c", 2)]), fetched_at=3)])
    rows = await gateways(pg_conn)
    assert set(rows) == {("mapping", "b"), ("mapping", "c"), ("mapping", "z")}
    assert not rows[("mapping", "b")]["in_config"] and rows[("mapping", "b")]["is_online"]
    assert rows[("mapping", "c")]["in_config"]
    # A failed reply changes no gateway.
    before = await gateways(pg_conn)
    await applier.apply([failed(MAP, fetched_at=4), failed(MAP_ON, fetched_at=4)])
    assert await gateways(pg_conn) == before
    # b and z go offline: neither configured nor online any more, they are removed (after an event).
    await applier.apply([ok(MAP_ON, reply(MAP_ON, []), fetched_at=5)])
    rows = await gateways(pg_conn)
    assert set(rows) == {("mapping", "c")}
    assert await outbox(pg_conn) == [
        ("mapping", "b", True, None),
        ("mapping", "z", True, None),
        ("mapping", "b", False, True),
        ("mapping", "z", False, True),
    ]


async def test_each_transition_writes_one_event_and_no_change_writes_none(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    await applier.apply(
        [ok(ROUTE, reply(ROUTE, [routing_item("r1", 1), routing_item("r2", 2)]), fetched_at=0)]
    )
    assert await outbox(pg_conn) == []  # first seen in config: status unknown, no event
    await applier.apply([ok(ROUTE_ON, reply(ROUTE_ON, [routing_online_item("r1", 1)]), fetched_at=1)])
    assert await outbox(pg_conn) == [("routing", "r1", True, None)]  # r2 first seen offline: none
    same = ok(ROUTE_ON, reply(ROUTE_ON, [routing_online_item("r1", 1)]), fetched_at=2)
    await applier.apply([same])
    await applier.apply([same])  # a redelivery
    changed_calls = ok(
        ROUTE_ON, reply(ROUTE_ON, [routing_online_item("r1", 1, currentCall=99)]), fetched_at=3
    )
    await applier.apply([changed_calls])
    assert len(await outbox(pg_conn)) == 1  # still online: no event
    assert (await gateways(pg_conn))[("routing", "r1")]["concurrent_calls"] == 99
    # A backlog in one batch: r2 up then down, r1 down then up — every transition, in order.
    await applier.apply(
        [
            ok(
                ROUTE_ON,
                reply(ROUTE_ON, [routing_online_item("r1", 1), routing_online_item("r2", 2)]),
                fetched_at=5,
            ),
            ok(ROUTE_ON, reply(ROUTE_ON, []), fetched_at=6),
            ok(ROUTE_ON, reply(ROUTE_ON, [routing_online_item("r1", 1)]), fetched_at=7),
        ]
    )
    assert (await outbox(pg_conn))[1:] == [
        ("routing", "r2", True, False),
        ("routing", "r1", False, True),
        ("routing", "r2", False, True),
        ("routing", "r1", True, False),
    ]
    row = (await gateways(pg_conn))[("routing", "r1")]
    assert row["is_online"] and row["online_changed_at"] == at(7)
    payloads = await pg_conn.fetch("SELECT payload::text FROM gateway_event_outbox ORDER BY id")
    assert '"changed_at": "2026-03-01T12:00:07Z"' in payloads[-1][0]


async def test_the_same_result_twice_gives_the_same_rows_and_one_event(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    config = ok(MAP, reply(MAP, [mapping_item("g", 1)]), fetched_at=1)
    online = ok(MAP_ON, reply(MAP_ON, [mapping_online_item("g", 1)]), fetched_at=2)
    await applier.apply([config, online])
    first = await gateways(pg_conn)
    await applier.apply([config, online])
    await applier.apply([online])
    assert await gateways(pg_conn) == first
    assert await outbox(pg_conn) == [("mapping", "g", True, None)]


async def test_an_older_snapshot_after_a_newer_one_changes_nothing(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    await applier.apply([ok(MAP, reply(MAP, [mapping_item("new", 1)]), fetched_at=10)])
    await applier.apply([ok(MAP_ON, reply(MAP_ON, []), fetched_at=10)])
    before = await gateways(pg_conn)
    await applier.apply([ok(MAP, reply(MAP, [mapping_item("old", 1)]), fetched_at=5)])
    await applier.apply([ok(MAP_ON, reply(MAP_ON, [mapping_online_item("new", 1)]), fetched_at=5)])
    assert await gateways(pg_conn) == before and await outbox(pg_conn) == []


async def test_bad_vos_data_gives_a_partial_projection_not_a_failure(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    await applier.apply([ok(MAP, reply(MAP, [mapping_item("keep", 1)]), fetched_at=0)])
    messy = {
        "retCode": 0,
        "InfoGatewayMappings": [  # unexpected key casing
            "not an object",
            {"remoteIps": "10.0.0.1"},  # no name
            {
                "Name": "upper",
                "RemoteIps": "10.5.5.5",
                "Capacity": "60",
                "registerType": "x",
                "lockType": True,
            },
            {"name": "nums", "remoteIps": ["10.6.6.6", 42], "capacity": 12.0, "lockType": 1e12},
            {"name": "keep", "remoteIps": None, "capacity": None},
        ],
    }
    report = await applier.apply([ok(MAP, messy, fetched_at=1)])
    rows = await gateways(pg_conn)
    assert set(rows) == {("mapping", "upper"), ("mapping", "nums"), ("mapping", "keep")}
    assert (
        rows[("mapping", "upper")]["ip_address"] == "10.5.5.5"
        and rows[("mapping", "upper")]["capacity"] == 60
    )
    assert (
        rows[("mapping", "upper")]["register_type"] is None
        and rows[("mapping", "upper")]["lock_type"] is None
    )
    assert (
        rows[("mapping", "nums")]["remote_ips"] == ["10.6.6.6"]
        and rows[("mapping", "nums")]["capacity"] == 12
    )
    assert rows[("mapping", "keep")]["ip_address"] is None
    problems = {p: n for (_, p), n in report.problems.items()}
    assert problems["item_not_object"] == 1 and problems["item_without_name"] == 1
    assert problems["bad_value:registerType"] == 1 and problems["bad_value:lockType"] == 2

    # No list at all, or not a list: nothing is projected (and nothing removed).
    for broken in ({"retCode": 0}, {"retCode": 0, "infoGatewayMappings": {"name": "x"}}):
        report = await applier.apply([ok(MAP, broken, fetched_at=2 + len(broken))])
        assert set(await gateways(pg_conn)) == set(rows)
        assert {p for (_, p) in report.problems} & {"list_missing", "list_not_array"}


async def test_manual_sip_spellings_are_stored_canonical(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    item = mapping_item("s", 1)
    item["dtmfSendPayloadTypeSIP"] = item.pop("dtmfSendPayloadTypeSip")
    result = ok(MAP, reply(MAP, [item]), fetched_at=1)
    await applier.apply([result])
    row = (await gateways(pg_conn))[("mapping", "s")]
    assert (
        row["config_data"]["dtmfSendPayloadTypeSip"] == 101
        and "dtmfSendPayloadTypeSIP" not in row["config_data"]
    )
    cached = await pg_conn.fetchval("SELECT response_data::text FROM vos_data_cache")
    assert "dtmfSendPayloadTypeSip" in cached and "dtmfSendPayloadTypeSIP" not in cached


async def test_a_status_change_leaves_the_stored_config_item_in_place(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    """The config item lives out of line (migration 0003): an online update copies a pointer to it
    instead of writing it again, and raw_data still shows the merged, current values."""
    await applier.apply([ok(MAP, reply(MAP, [mapping_item("big", 1)]), fetched_at=1)])
    chunk = "SELECT pg_column_toast_chunk_id(config_data) FROM gateway_rows WHERE gateway_name = 'big'"
    stored = await pg_conn.fetchval(chunk)
    assert stored is not None  # the ~2.5 kB item is in the TOAST table, not in the row
    for second, calls in ((2, 5), (3, 9)):
        online = [mapping_online_item("big", 1, currentCall=calls)]
        await applier.apply([ok(MAP_ON, reply(MAP_ON, online), fetched_at=second)])
        assert await pg_conn.fetchval(chunk) == stored
    row = (await gateways(pg_conn))[("mapping", "big")]
    assert row["concurrent_calls"] == 9 and row["raw_data"]["currentCall"] == 9
    assert (
        row["raw_data"]["accountName"] == "客户1"
        and row["data_sources"]["online"]["api"] == MAP_ON
        and row["raw_data"]["_data_sources"]["online"]["currentCall"] == 9
    )


async def test_changed_replies_are_parsed_while_postgresql_stores_them(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A changed gateway reply is parsed in a worker thread during the cache upsert (not after it);
    an unchanged one is not parsed at all."""
    threads: list[str] = []

    def recording(parse: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any) -> Any:
            threads.append(threading.current_thread().name)
            return parse(*args)

        return wrapper

    monkeypatch.setattr(apply, "parse_config", recording(gateway_rows.parse_config))
    monkeypatch.setattr(apply, "parse_online", recording(gateway_rows.parse_online))
    config = reply(MAP, [mapping_item("a", 1), mapping_item("b", 2)])
    online = reply(MAP_ON, [mapping_online_item("a", 1)])
    await applier.apply([ok(MAP, config, fetched_at=1), ok(MAP_ON, online, fetched_at=2)])
    assert len(threads) == 2 and threading.main_thread().name not in threads
    rows = await gateways(pg_conn)
    assert rows[("mapping", "a")]["is_online"] and not rows[("mapping", "b")]["is_online"]
    assert rows[("mapping", "b")]["config_data"] == mapping_item("b", 2)
    threads.clear()
    await applier.apply([ok(MAP, config, fetched_at=3), ok(MAP_ON, online, fetched_at=4)])
    assert threads == []


async def test_a_session_without_the_staging_table_still_writes(
    make_settings: Callable[..., Settings], pg_conn: asyncpg.Connection, instance: int
) -> None:
    """The staging table is made by the transaction that needs it, so a session reset under the
    writer (DISCARD TEMP, a pooler handing out another server session) changes nothing."""
    pool = await create_pool(make_settings(), max_size=1)
    try:
        applier = BatchApplier(pool, make_settings().catalogue)
        await applier.apply([ok(MAP, reply(MAP, [mapping_item("a", 1)]), fetched_at=1)])
        async with pool.acquire() as conn:
            await conn.execute("DISCARD TEMP")
            assert await conn.fetchval("SELECT to_regclass('pg_temp.writer_gateway_rows')") is None
        await applier.apply([ok(MAP, reply(MAP, [mapping_item("a", 1), mapping_item("b", 2)]), fetched_at=2)])
    finally:
        await pool.close()
    assert set(await gateways(pg_conn)) == {("mapping", "a"), ("mapping", "b")}


async def test_online_items_come_from_the_stored_reply_at_their_own_position(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    """Items are read back from vos_data_cache by position: each row gets its own item, from the
    reply the cache row holds, whatever the order of the lists in a backlog or a repeated name."""
    first = [mapping_online_item("a", 1, currentCall=1), mapping_online_item("b", 2, currentCall=2)]
    newest = [
        mapping_online_item("c", 3, currentCall=30),
        mapping_online_item("b", 2, currentCall=20),
        mapping_online_item("c", 3, currentCall=31),  # a repeated name: the last item wins
    ]
    await applier.apply(
        [ok(MAP_ON, reply(MAP_ON, first), fetched_at=1), ok(MAP_ON, reply(MAP_ON, newest), fetched_at=2)]
    )
    rows = await gateways(pg_conn)
    assert {name: row["online_data"] for (_, name), row in rows.items()} == {
        "b": newest[1],
        "c": newest[2],
    }  # "a" went offline at 2 and, in no config, is gone
    assert rows[("mapping", "c")]["raw_data"]["currentCall"] == 31
    await applier.apply([ok(MAP_ON, reply(MAP_ON, list(reversed(newest[:2]))), fetched_at=3)])
    rows = await gateways(pg_conn)
    assert rows[("mapping", "b")]["online_data"] == newest[1]
    assert rows[("mapping", "c")]["online_data"] == newest[0]
