"""Gateway history through the real batch transaction and PostgreSQL: transitions, samples, rollups,
partitions and their retention."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import nats
import pytest

from tests.integration.writer.helpers import add_instance, drained, events, publish
from tests.support.waiting import wait_for
from vosync.shared.settings import Settings
from vosync.sim.replies import mapping_item, mapping_online_item, ok, reply
from vosync.writer.apply import BatchApplier
from vosync.writer.history_maintenance import run_round

MAP, MAP_ON = "GetGatewayMapping", "GetGatewayMappingOnline"


@pytest.fixture
async def history(
    pool: asyncpg.Pool, make_settings: Callable[..., Settings], pg_conn: asyncpg.Connection, instance: int
) -> BatchApplier:
    """An applier with history on, and today's partitions made (as the writer does at start)."""
    report = await run_round(pg_conn, make_settings())
    assert report.ran
    return BatchApplier(pool, make_settings().catalogue, history=True)


def _hour_ago(hours: int = 3) -> datetime:
    """A whole hour in the past, inside the partitions made for today and yesterday."""
    return (datetime.now(UTC) - timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)


def _online(at: datetime, calls: dict[str, int], asr: float = 0.5) -> Any:
    items = [
        mapping_online_item(name, i, currentCall=n, asr=asr + i / 100, acd=60.0 + n)
        for i, (name, n) in enumerate(sorted(calls.items()))
    ]
    return ok(MAP_ON, reply(MAP_ON, items), fetched_at=at)


async def _transitions(conn: asyncpg.Connection) -> list[tuple[str, bool, bool | None, datetime, int]]:
    rows = await conn.fetch(
        "SELECT name, is_online, previous, changed_at, event_id FROM gateway_transitions ORDER BY event_id"
    )
    return [(r["name"], r["is_online"], r["previous"], r["changed_at"], r["event_id"]) for r in rows]


async def test_a_known_sequence_of_flips_gives_exactly_those_transitions_with_the_outbox_ids(
    history: BatchApplier, pg_conn: asyncpg.Connection
) -> None:
    t = _hour_ago()
    await history.apply([ok(MAP, reply(MAP, [mapping_item("a", 1), mapping_item("b", 2)]), fetched_at=t)])
    s = timedelta(seconds=30)
    polls = [
        (t + 1 * s, {"a": 1, "b": 2}),  # both first seen online: previous None
        (t + 2 * s, {"a": 1}),  # b down
        (t + 3 * s, {"a": 1, "b": 2}),  # b up
        (t + 4 * s, {"b": 2}),  # a down
        (t + 5 * s, {"b": 2}),  # nothing
    ]
    for at, calls in polls:
        await history.apply([_online(at, calls)])
    # One more flip inside a single batch with two polls (a backlog): both transitions kept.
    await history.apply([_online(t + 6 * s, {"a": 1, "b": 2}), _online(t + 7 * s, {"a": 1})])

    got = await _transitions(pg_conn)
    assert [(n, on, prev, at) for n, on, prev, at, _ in got] == [
        ("a", True, None, t + 1 * s),
        ("b", True, None, t + 1 * s),
        ("b", False, True, t + 2 * s),
        ("b", True, False, t + 3 * s),
        ("a", False, True, t + 4 * s),
        ("a", True, False, t + 6 * s),
        ("b", False, True, t + 7 * s),
    ]
    outbox = await pg_conn.fetch(
        "SELECT id, gateway_name, is_online, previous, changed_at FROM gateway_event_outbox ORDER BY id"
    )
    assert [
        (r["gateway_name"], r["is_online"], r["previous"], r["changed_at"], r["id"]) for r in outbox
    ] == got


async def test_samples_at_most_one_per_gateway_per_minute_and_rollups_match_the_polls(
    history: BatchApplier, pg_conn: asyncpg.Connection, make_settings: Callable[..., Settings]
) -> None:
    t = _hour_ago()
    # In config: a gateway neither configured nor online is deleted, and its row id (the samples'
    # key) with it.
    await history.apply([ok(MAP, reply(MAP, [mapping_item("a", 1), mapping_item("b", 2)]), fetched_at=t)])
    polls = [
        (t + timedelta(seconds=5), {"a": 10, "b": 1}),
        (t + timedelta(seconds=35), {"a": 99, "b": 99}),  # same minute: not sampled
        (t + timedelta(seconds=65), {"a": 20, "b": 3}),
        (t + timedelta(seconds=95), {"a": 20, "b": 3}),  # the same reply again: same minute, skipped
        (t + timedelta(seconds=125), {"a": 20, "b": 3}),  # unchanged reply, new minute: sampled
        (t + timedelta(seconds=185), {"a": 30}),  # b offline: no sample for b
        (t + timedelta(minutes=61), {"a": 7, "b": 7}),  # the next hour
    ]
    for at, calls in polls:
        await history.apply([_online(at, calls)])
    rows = await pg_conn.fetch(
        "SELECT g.gateway_name AS name, s.at, s.concurrent_calls, s.acd FROM gateway_samples s"
        " JOIN gateway_rows g ON g.id = s.gateway_id ORDER BY g.gateway_name, s.at"
    )
    m = timedelta(minutes=1)
    assert [(r["name"], r["at"], r["concurrent_calls"]) for r in rows] == [
        ("a", t, 10),
        ("a", t + m, 20),
        ("a", t + 2 * m, 20),
        ("a", t + 3 * m, 30),
        ("a", t + 61 * m, 7),
        ("b", t, 1),
        ("b", t + m, 3),
        ("b", t + 2 * m, 3),
        ("b", t + 61 * m, 7),
    ]
    assert all(r["acd"] == pytest.approx(60.0 + r["concurrent_calls"]) for r in rows)

    # The hour rolls up once it is over (and again, to the same rows: idempotent).
    settings = make_settings()
    for _ in range(2):
        report = await run_round(pg_conn, settings, now=t + timedelta(hours=1, minutes=5))
        assert report.ran
    hourly = await pg_conn.fetch(
        "SELECT g.gateway_name AS name, h.* FROM gateway_samples_hourly h"
        " JOIN gateway_rows g ON g.id = h.gateway_id WHERE h.at = $1 ORDER BY g.gateway_name",
        t,
    )
    assert [(r["name"], r["samples"], r["calls_min"], r["calls_max"]) for r in hourly] == [
        ("a", 4, 10, 30),
        ("b", 3, 1, 3),
    ]
    assert hourly[0]["calls_avg"] == pytest.approx((10 + 20 + 20 + 30) / 4)
    assert hourly[1]["calls_avg"] == pytest.approx((1 + 3 + 3) / 3)
    assert hourly[0]["acd_max"] == pytest.approx(90.0)
    # The next hour is not over yet at that time: not rolled up.
    assert await pg_conn.fetchval("SELECT count(*) FROM gateway_samples_hourly WHERE at > $1", t) == 0
    assert await pg_conn.fetchval("SELECT rows FROM gateway_rollup_marks WHERE at = $1", t) == 2


async def test_retention_drops_old_partitions_and_keeps_the_rest(
    history: BatchApplier, pg_conn: asyncpg.Connection, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(history_transitions_days=90, history_samples_days=30, history_rollups_days=365)
    now = datetime.now(UTC)
    old_samples = now - timedelta(days=40)  # past 30 days, within 90
    very_old = now - timedelta(days=400)
    # Partitions of the past, as a writer running then would have made them.
    for when in (old_samples, very_old):
        assert (await run_round(pg_conn, settings, now=when)).ran
    gw = await pg_conn.fetchval(
        "INSERT INTO gateway_rows (vos_instance_id, gateway_type, gateway_name)"
        " VALUES (1, 'mapping', 'a') RETURNING id"
    )
    for when in (old_samples, very_old, now):
        await pg_conn.execute(
            "INSERT INTO gateway_samples (gateway_id, at, concurrent_calls) VALUES ($1, $2, 1)", gw, when
        )
        await pg_conn.execute(
            "INSERT INTO gateway_samples_hourly (gateway_id, at, samples) VALUES ($1, $2, 1)", gw, when
        )
        await pg_conn.execute(
            "INSERT INTO gateway_transitions (instance_id, gateway_type, name, is_online, changed_at)"
            " VALUES (1, 'mapping', 'a', true, $1)",
            when,
        )

    report = await run_round(pg_conn, settings, now=now)
    assert report.ran
    assert f"gateway_samples_p{old_samples:%Y%m%d}" in report.dropped
    assert f"gateway_samples_p{very_old:%Y%m%d}" in report.dropped
    assert f"gateway_transitions_p{very_old:%Y%m%d}" in report.dropped
    assert f"gateway_samples_hourly_p{very_old:%Y%m}" in report.dropped
    assert f"gateway_transitions_p{old_samples:%Y%m%d}" not in report.dropped

    async def times(table: str, column: str) -> list[datetime]:
        return [r[0] for r in await pg_conn.fetch(f"SELECT {column} FROM {table} ORDER BY 1")]

    assert await times("gateway_samples", "at") == [now]
    assert await times("gateway_transitions", "changed_at") == [old_samples, now]
    assert await times("gateway_samples_hourly", "at") == [old_samples, now]
    # Nothing left to drop: a second round drops nothing, and today's partitions are all there.
    again = await run_round(pg_conn, settings, now=now)
    assert again.dropped == [] and again.created == []


async def test_two_writers_maintaining_at_once_is_harmless(
    pool: asyncpg.Pool, make_settings: Callable[..., Settings], instance: int
) -> None:
    settings = make_settings()

    async def one() -> bool:
        async with pool.acquire() as conn:
            return (await run_round(conn, settings)).ran

    ran = await asyncio.gather(one(), one(), one())
    assert any(ran)
    async with pool.acquire() as conn:
        assert (await run_round(conn, settings)).created == []


async def test_history_off_writes_none_and_a_result_with_no_partition_keeps_its_projection(
    pool: asyncpg.Pool,
    history: BatchApplier,
    pg_conn: asyncpg.Connection,
    make_settings: Callable[..., Settings],
) -> None:
    off = BatchApplier(pool, make_settings().catalogue, history=False)
    t = _hour_ago()
    await off.apply([_online(t, {"a": 1})])
    assert await pg_conn.fetchval("SELECT count(*) FROM gateway_transitions") == 0
    assert await pg_conn.fetchval("SELECT count(*) FROM gateway_samples") == 0
    assert await pg_conn.fetchval("SELECT count(*) FROM gateway_event_outbox") == 1

    # A first poll of another instance, from before every partition (a very late redelivery).
    await add_instance(pg_conn, 2)
    ancient = ok(
        MAP_ON, reply(MAP_ON, [mapping_online_item("b")]), instance_id=2, fetched_at=t - timedelta(days=20)
    )
    report = await history.apply([ancient])
    assert report.history_lost == 1 and report.events == 1
    names = await pg_conn.fetch(
        "SELECT gateway_name FROM gateway_rows WHERE vos_instance_id = 2 AND is_online"
    )
    assert [r[0] for r in names] == ["b"]
    assert await pg_conn.fetchval("SELECT count(*) FROM gateway_event_outbox WHERE vos_instance_id = 2") == 1
    assert await pg_conn.fetchval("SELECT count(*) FROM gateway_transitions") == 0


async def test_the_writer_service_makes_its_partitions_and_its_events_carry_the_transitions_ids(
    run_writer: Callable[..., Any],
    js: nats.js.JetStreamContext,
    pg_conn: asyncpg.Connection,
    instance: int,
) -> None:
    """A fresh database: the running writer makes today's partitions itself (no round run here),
    and each transition's event_id is the Nats-Msg-Id its event has on GATEWAY_EVENTS."""
    assert await pg_conn.fetchval("SELECT count(*) FROM gateway_samples") == 0
    async with run_writer():
        today = f"gateway_samples_p{datetime.now(UTC):%Y%m%d}"

        async def partition_made() -> bool:
            return bool(await pg_conn.fetchval("SELECT to_regclass($1) IS NOT NULL", today))

        await wait_for(partition_made, what="today's samples partition")
        t = _hour_ago(1)
        await publish(js, ok(MAP, reply(MAP, [mapping_item("a", 1)]), fetched_at=t))
        await publish(js, _online(t + timedelta(seconds=10), {"a": 3}))
        # Applied apart: a batch holding several polls of a scope samples only its newest.
        await wait_for(lambda: drained(js, pg_conn), what="the first poll applied")
        await publish(js, _online(t + timedelta(seconds=70), {}))
        await wait_for(lambda: drained(js, pg_conn), what="results applied and events published")
        found = await events(js)
    got = await _transitions(pg_conn)
    assert [(n, on, prev) for n, on, prev, _, _ in got] == [("a", True, None), ("a", False, True)]
    assert [h["Nats-Msg-Id"] for h, _, _ in found] == [str(eid) for *_, eid in got]
    samples = await pg_conn.fetch("SELECT at, concurrent_calls FROM gateway_samples ORDER BY at")
    assert [(r["at"], r["concurrent_calls"]) for r in samples] == [(t, 3)]
