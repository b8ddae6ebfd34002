"""The writer as a service: the durable consumer, acks, dead letters, events on the bus, notifications."""

from __future__ import annotations

import asyncio
import gc
import time
import urllib.request
from collections.abc import AsyncIterator

import asyncpg
import nats
import pytest
from faststream.nats.message import NatsMessage
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from tests.integration.writer.conftest import RunWriter
from tests.integration.writer.helpers import (
    MAP,
    MAP_ON,
    ROUTE,
    ROUTE_ON,
    add_instance,
    cache_row,
    consumer_idle,
    drained,
    events,
    gateways,
    publish,
    stream_messages,
)
from tests.support.waiting import wait_for
from vosync.shared import bus, channels
from vosync.shared.codec import decode, encode
from vosync.shared.messages import CacheChanged, FetchResult, GatewayOnlineEvent
from vosync.sim.replies import (
    failed,
    mapping_item,
    mapping_online_item,
    ok,
    reply,
    routing_item,
    routing_online_item,
)
from vosync.writer.apply import BatchApplier
from vosync.writer.service import WriterService


def _suite_page(page: int, n: int | None = None) -> FetchResult:
    """A GetSuite result of its own key (`params={"page": page}`, fetched at `page`); `n` in its
    reply is the page unless given."""
    return ok(
        "GetSuite", {"retCode": 0, "n": page if n is None else n}, fetched_at=page, params={"page": page}
    )


def metric(writer: WriterService, name: str, labels: dict[str, str] | None = None) -> float:
    value = writer.metrics.registry.get_sample_value(name, labels or {})
    return value or 0.0


async def test_results_become_rows_and_transitions_become_events(
    run_writer: RunWriter, js: nats.js.JetStreamContext, pg_conn: asyncpg.Connection, instance: int
) -> None:
    async with run_writer():
        await publish(js, ok(MAP, reply(MAP, [mapping_item("m1", 1), mapping_item("m2", 2)]), fetched_at=1))
        await publish(js, ok(ROUTE, reply(ROUTE, [routing_item("r1", 1)]), fetched_at=1))
        await publish(js, ok(MAP_ON, reply(MAP_ON, [mapping_online_item("m1", 1)]), fetched_at=2))
        await publish(js, ok(ROUTE_ON, reply(ROUTE_ON, [routing_online_item("r1", 1)]), fetched_at=2))
        await publish(js, ok(ROUTE_ON, reply(ROUTE_ON, []), fetched_at=3))
        await wait_for(lambda: drained(js, pg_conn), what="results applied and events published")
        found = await wait_for(lambda: _events_count(js, 3), what="3 events on GATEWAY_EVENTS")
    rows = await gateways(pg_conn)
    assert rows[("mapping", "m1")]["is_online"] and not rows[("mapping", "m2")]["is_online"]
    assert not rows[("routing", "r1")]["is_online"]
    outbox = await pg_conn.fetch(
        "SELECT id, gateway_type, gateway_name, is_online FROM gateway_event_outbox ORDER BY id"
    )
    assert [(h["Nats-Msg-Id"], e.event_id, s) for h, e, s in found] == [
        (str(r["id"]), r["id"], f"gateway.online.1.{r['gateway_type']}") for r in outbox
    ]
    assert [(e.gateway_type.value, e.gateway_name, e.is_online, e.previous) for _, e, _ in found] == [
        ("mapping", "m1", True, None),
        ("routing", "r1", True, None),
        ("routing", "r1", False, True),
    ]


async def _events_count(
    js: nats.js.JetStreamContext, count: int
) -> list[tuple[dict[str, str], GatewayOnlineEvent, str]] | None:
    found = await events(js)
    assert len(found) <= count, found
    return found if len(found) == count else None


async def test_a_redelivered_result_gives_the_same_rows_and_one_event(
    run_writer: RunWriter, js: nats.js.JetStreamContext, pg_conn: asyncpg.Connection, instance: int
) -> None:
    online = ok(MAP_ON, reply(MAP_ON, [mapping_online_item("g", 1)]), fetched_at=2)
    async with run_writer():
        await publish(js, ok(MAP, reply(MAP, [mapping_item("g", 1)]), fetched_at=1))
        await publish(js, online)
        await wait_for(lambda: drained(js, pg_conn))
        before = await gateways(pg_conn)
        await publish(js, online, dedup=False)  # the same bytes stored and delivered again
        await publish(js, online, dedup=False)
        await wait_for(lambda: drained(js, pg_conn))
        await asyncio.sleep(0.3)  # give a wrongly written second event the time to show up
        assert len(await events(js)) == 1
    assert await gateways(pg_conn) == before


async def test_a_malformed_message_is_dead_lettered_at_once_and_blocks_nothing(
    run_writer: RunWriter, js: nats.js.JetStreamContext, pg_conn: asyncpg.Connection, instance: int
) -> None:
    good = ok("GetSuite", {"retCode": 0, "infoSuites": []}, fetched_at=1)
    async with run_writer() as writer:
        await js.publish("vos.result.1.GetSuite", b'{"not": "a fetch result"}', headers={"X-Test": "1"})
        await js.publish("vos.result.1.GetSuite", b"\x00\xff garbage")
        body, headers = encode(good.model_copy(update={"cache_key": "not-a-digest"}))
        await js.publish("vos.result.1.GetSuite", body, headers=headers)
        await publish(js, good)
        await wait_for(lambda: consumer_idle(js))
        await wait_for(lambda: cache_row(pg_conn, good), what="the good result applied")
        assert metric(writer, "vosync_writer_dead_lettered_total", {"stage": "decode"}) == 2
        assert metric(writer, "vosync_writer_dead_lettered_total", {"stage": "invalid"}) == 1
    dead = await stream_messages(js, bus.DEAD_LETTER_STREAM)
    assert len(dead) == 3
    first = dead[0]
    assert first.subject == "vos.dead.result.1.GetSuite" and first.data == b'{"not": "a fetch result"}'
    assert first.headers["X-Test"] == "1" and first.headers["Vosync-Dead-Stage"] == "decode"
    assert first.headers["Vosync-Dead-Subject"] == "vos.result.1.GetSuite"
    assert "not a FetchResult" in first.headers["Vosync-Dead-Reason"]
    assert "instance_id" in first.headers["Vosync-Dead-Reason"]  # pydantic names the missing fields
    assert dead[2].headers["Vosync-Dead-Stage"] == "invalid"
    assert "md5" in dead[2].headers["Vosync-Dead-Reason"]


POISON_TRIGGER = """
    CREATE OR REPLACE FUNCTION vosync_test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.api_name = 'GetSoftSwitch' THEN
            RAISE EXCEPTION 'poisoned row for %', NEW.cache_key USING ERRCODE = '22023';
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER vosync_test_poison BEFORE INSERT OR UPDATE ON vos_data_cache
        FOR EACH ROW EXECUTE FUNCTION vosync_test_poison();
"""


@pytest.fixture
async def poison(pg_conn: asyncpg.Connection) -> AsyncIterator[None]:
    """The database refuses every GetSoftSwitch row: a result that can never be applied."""
    await pg_conn.execute(POISON_TRIGGER)
    try:
        yield
    finally:
        await pg_conn.execute(
            "DROP TRIGGER IF EXISTS vosync_test_poison ON vos_data_cache;"
            " DROP FUNCTION IF EXISTS vosync_test_poison()"
        )


async def test_a_result_that_always_fails_is_isolated_then_dead_lettered(
    run_writer: RunWriter,
    js: nats.js.JetStreamContext,
    pg_conn: asyncpg.Connection,
    instance: int,
    poison: None,
) -> None:
    bad = ok("GetSoftSwitch", {"retCode": 0, "infoSoftSwitches": []}, fetched_at=1)
    goods = [ok("GetSuite", {"retCode": 0, "infoSuites": [{"id": i}]}, fetched_at=i) for i in range(5)]
    for result in [goods[0], goods[1], bad, goods[2], goods[3], goods[4]]:
        await publish(js, result)  # queued before the writer starts: one batch
    async with run_writer(writer_max_deliver=3, writer_nak_delay_s=0.2) as writer:
        await wait_for(lambda: consumer_idle(js), timeout=20, what="the poisoned result dead-lettered")
        assert metric(writer, "vosync_writer_naks_total") == 2  # deliveries 1 and 2; the 3rd is the last
        assert (
            metric(
                writer, "vosync_writer_results_total", {"api": "GetSoftSwitch", "outcome": "dead_lettered"}
            )
            == 1
        )
        assert metric(writer, "vosync_writer_results_total", {"api": "GetSuite", "outcome": "applied"}) >= 1
    row = await cache_row(pg_conn, goods[4])
    assert row is not None and row["response_data"] == goods[4].response
    dead = await stream_messages(js, bus.DEAD_LETTER_STREAM)
    assert len(dead) == 1
    assert (
        dead[0].headers["Vosync-Dead-Stage"] == "apply" and dead[0].headers["Vosync-Dead-Deliveries"] == "3"
    )
    assert "poisoned row" in dead[0].headers["Vosync-Dead-Reason"]
    assert decode(type(bad), dead[0].data, dead[0].headers) == bad


async def test_results_of_a_deleted_instance_are_acked_and_dropped(
    run_writer: RunWriter, js: nats.js.JetStreamContext, pg_conn: asyncpg.Connection, instance: int
) -> None:
    stray = ok("GetSuite", {"retCode": 0}, instance_id=42, fetched_at=1)
    async with run_writer() as writer:
        await publish(js, stray)
        await wait_for(lambda: consumer_idle(js))
        assert (
            metric(writer, "vosync_writer_results_total", {"api": "GetSuite", "outcome": "unknown_instance"})
            == 1
        )
        assert metric(writer, "vosync_writer_naks_total") == 0
    assert await cache_row(pg_conn, stray) is None


async def test_a_backlog_is_written_in_batches(
    run_writer: RunWriter, js: nats.js.JetStreamContext, pg_conn: asyncpg.Connection, instance: int
) -> None:
    results = [_suite_page(i) for i in range(300)]
    for result in results:
        await publish(js, result)
    async with run_writer(writer_batch_size=100) as writer:
        await wait_for(lambda: consumer_idle(js), timeout=20)
        batches = metric(writer, "vosync_writer_batch_size_count")
        assert metric(writer, "vosync_writer_batch_size_sum") == 300
        assert batches <= 10, f"{batches} batches for 300 queued results"
    assert await pg_conn.fetchval("SELECT count(*) FROM vos_data_cache") == 300


async def test_each_commit_announces_the_cache_keys_it_changed(
    run_writer: RunWriter,
    js: nats.js.JetStreamContext,
    nc: NatsClient,
    pg_conn: asyncpg.Connection,
    instance: int,
) -> None:
    seen: list[CacheChanged] = []

    async def collect(msg: Msg) -> None:
        seen.append(decode(CacheChanged, msg.data, msg.headers))

    await nc.subscribe("vos.cache.changed.*", cb=collect)
    first = ok("GetSuite", {"retCode": 0, "infoSuites": [{"id": 1}]}, fetched_at=1)
    async with run_writer():
        await publish(js, first)
        await wait_for(lambda: _len_at_least(seen, 1))
        await publish(
            js, ok("GetSuite", {"retCode": 0, "infoSuites": [{"id": 1}]}, fetched_at=2)
        )  # same data
        await publish(js, failed("GetSuite", fetched_at=3))  # error state changes
        await wait_for(lambda: consumer_idle(js))
        await wait_for(lambda: _len_at_least(seen, 2))
        await nc.flush()
    # The data changed twice (the first reply, the error state): two notes naming the key changed.
    assert [(c.instance_id, c.cache_keys) for c in seen if c.cache_keys] == [
        (1, [first.cache_key]),
        (1, [first.cache_key]),
    ]
    # The unchanged reply moved only synced_at: at most a timestamps-only note (none when it shared
    # a batch with the failure, which then decided the row), never one saying the data changed.
    confirmed = [c for c in seen if not c.cache_keys]
    assert all(c.instance_id == 1 and c.synced_keys == [first.cache_key] for c in confirmed)
    assert len(confirmed) <= 1 and all(not c.synced_keys for c in seen if c.cache_keys)


async def _len_at_least(items: list[CacheChanged], count: int) -> bool:
    return len(items) >= count


async def test_relay_publishes_what_was_committed_while_no_writer_ran(
    run_writer: RunWriter,
    js: nats.js.JetStreamContext,
    pg_conn: asyncpg.Connection,
    applier: BatchApplier,
    instance: int,
) -> None:
    await applier.apply(
        [ok(MAP_ON, reply(MAP_ON, [mapping_online_item(f"g{i}", i) for i in range(700)]), fetched_at=1)]
    )
    assert (
        await pg_conn.fetchval("SELECT count(*) FROM gateway_event_outbox WHERE published_at IS NULL") == 700
    )
    async with run_writer(), run_writer():  # two relays: one at a time, each row once
        await wait_for(lambda: drained(js, pg_conn), what="the outbox published")
        found = await wait_for(lambda: _events_count(js, 700))
    assert [int(h["Nats-Msg-Id"]) for h, _, _ in found] == list(range(1, 701))
    assert {e.gateway_name for _, e, _ in found} == {f"g{i}" for i in range(700)}


async def test_several_writers_share_the_work_and_write_each_event_once(
    run_writer: RunWriter, js: nats.js.JetStreamContext, pg_conn: asyncpg.Connection, applier: BatchApplier
) -> None:
    def listed(step: int) -> list[str]:
        return [f"g{i}" for i in range(20) if (i + step) % 3]

    for instance_id in range(1, 5):
        await add_instance(pg_conn, instance_id)
        config = reply(MAP, [mapping_item(f"g{i}", i) for i in range(20)])
        await applier.apply([ok(MAP, config, instance_id=instance_id, fetched_at=0)])
    results = []
    for step in range(40):
        for instance_id in range(1, 5):
            items = [mapping_online_item(name) for name in listed(step)]
            results.append(ok(MAP_ON, reply(MAP_ON, items), instance_id=instance_id, fetched_at=step))
            results.append(
                ok("GetSuite", {"retCode": 0, "s": step}, instance_id=instance_id, fetched_at=step)
            )
    async with run_writer(writer_batch_size=16) as w1, run_writer(writer_batch_size=16) as w2:
        async with run_writer(writer_batch_size=16) as w3:
            for result in results:
                await publish(js, result)
            await wait_for(lambda: drained(js, pg_conn), timeout=60)
            written = await pg_conn.fetchval("SELECT count(*) FROM gateway_event_outbox")
            found = await wait_for(lambda: _events_count(js, written), timeout=30)
        shares = [metric(w, "vosync_writer_batch_size_sum") for w in (w1, w2, w3)]
    assert sum(shares) >= len(results) and all(shares), shares  # each writer took a part
    # Writers racing may apply an older snapshot after a newer one: it is then ignored, so the
    # count of transitions depends on timing; what may not happen is a duplicate or a lost one.
    assert len({h["Nats-Msg-Id"] for h, _, _ in found}) == written > 0
    final: dict[tuple[int, str], bool] = {}
    for _, event, _ in found:
        key = (event.instance_id, event.gateway_name)
        assert final.get(key) != event.is_online, f"two {event.is_online} events in a row for {key}"
        if key in final:
            assert event.previous == final[key], (key, event)
        else:  # first event: online, after an unknown status or a first observation offline
            assert event.is_online and event.previous in (None, False), (key, event)
        final[key] = event.is_online
    for instance_id in range(1, 5):
        rows = await gateways(pg_conn, instance_id)
        online = {name for (_, name), row in rows.items() if row["is_online"]}
        assert online == set(listed(39))
        assert {name for (_, name), on in final.items() if _ == instance_id and on} == online


async def test_health_ready_and_metrics(
    run_writer: RunWriter, js: nats.js.JetStreamContext, pg_conn: asyncpg.Connection, instance: int
) -> None:
    applied = 'vosync_writer_results_total{api="GetSuite",outcome="applied"} 1.0'
    async with run_writer() as writer:
        await publish(js, ok("GetSuite", {"retCode": 0}, fetched_at=1))
        await wait_for(lambda: consumer_idle(js))
        base = f"http://127.0.0.1:{writer.ops_port}"
        health = await asyncio.to_thread(_get, base + "/health")
        ready = await asyncio.to_thread(_get, base + "/health/ready")

        async def counted() -> tuple[int, str] | None:  # counted right after the ack, not before it
            got = await asyncio.to_thread(_get, base + "/metrics")
            return got if applied in got[1] else None

        metrics = await wait_for(counted, timeout=5, what="the applied result in /metrics")
    assert health == (200, '{"status":"ok"}')
    assert ready[0] == 200 and '"nats": true' in ready[1] and '"database": true' in ready[1]
    for name in (
        applied,
        "vosync_writer_batch_size_bucket",
        "vosync_writer_consumer_pending",
        "vosync_writer_outbox_backlog",
        "vosync_writer_dead_lettered_total",
    ):
        assert name in metrics[1], name


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.status, resp.read().decode()


async def test_stop_finishes_the_batch_in_hand_within_five_seconds(
    run_writer: RunWriter, js: nats.js.JetStreamContext, pg_conn: asyncpg.Connection, instance: int
) -> None:
    for i in range(400):
        await publish(js, _suite_page(i))
    manager = run_writer(writer_batch_size=50)
    await manager.__aenter__()
    await wait_for(lambda: _rows_at_least(pg_conn, 1))
    started = time.monotonic()
    await manager.__aexit__(None, None, None)
    assert time.monotonic() - started < 5
    info = await js.consumer_info(bus.RESULTS_STREAM, bus.WRITER_DURABLE)
    applied = await pg_conn.fetchval("SELECT count(*) FROM vos_data_cache")
    assert info.num_ack_pending == 0  # nothing left half-done: every fetched message was acked
    assert applied == 400 - info.num_pending


async def _rows_at_least(conn: asyncpg.Connection, count: int) -> bool:
    return bool(await conn.fetchval("SELECT count(*) FROM vos_data_cache") >= count)


async def test_a_deleted_durable_is_declared_again_and_consumption_goes_on(
    run_writer: RunWriter, js: nats.js.JetStreamContext, pg_conn: asyncpg.Connection, instance: int
) -> None:
    async with run_writer() as writer:
        await publish(js, _suite_page(1))
        await wait_for(lambda: _rows_at_least(pg_conn, 1), timeout=10)
        await js.delete_consumer(bus.RESULTS_STREAM, bus.WRITER_DURABLE)
        await publish(js, _suite_page(2))
        await wait_for(lambda: _rows_at_least(pg_conn, 2), timeout=20)
        assert await writer._ready() == {"nats": True, "database": True}


async def test_an_applied_result_is_not_kept_alive_by_the_writer(
    run_writer: RunWriter, js: nats.js.JetStreamContext, instance: int
) -> None:
    """A 10,000-gateway reply is tens of MB: once applied, nothing of the writer may hold it (a
    context copy captured by a timer kept it for minutes, doubling the writer's peak memory)."""
    result = ok("GetSuite", {"retCode": 0, "blob": "x" * 2_000_000}, fetched_at=4242.5)
    async with run_writer():
        await publish(js, result)
        await wait_for(lambda: consumer_idle(js), timeout=20)
        await asyncio.sleep(0.5)  # the commit's after-work (notes, acks) is done
        gc.collect()
        alive = [
            o
            for o in gc.get_objects()
            if isinstance(o, NatsMessage)
            and (o.raw_message.headers or {}).get(channels.MSG_ID_HEADER) == result.msg_id
        ]
        assert alive == []


async def test_bus_metrics_name_the_channel_not_the_subject(
    run_writer: RunWriter, js: nats.js.JetStreamContext, pg_conn: asyncpg.Connection, instance: int
) -> None:
    async with run_writer() as writer:
        await publish(js, _suite_page(7, n=1))
        await wait_for(lambda: _rows_at_least(pg_conn, 1), timeout=10)
        handlers = {
            sample.labels["handler"]
            for family in writer.metrics.registry.collect()
            if family.name.startswith("vosync_bus_received")
            for sample in family.samples
            if "handler" in sample.labels
        }
        assert handlers == {"vos.result.*.*"}
