"""The writer's periodic cleanup on real PostgreSQL: what goes, what stays, in bounded batches."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg

from tests.integration.writer.conftest import RunWriter
from tests.integration.writer.helpers import cache_row
from tests.support.waiting import wait_for
from vosync.shared.messages import FetchResult
from vosync.shared.settings import Settings
from vosync.sim.replies import failed, ok
from vosync.writer.apply import BatchApplier
from vosync.writer.cleanup import Cleanup
from vosync.writer.cleanup_plan import CLEANUP_LOCK, RetentionPolicy, Table
from vosync.writer.metrics import WriterMetrics

DAY = timedelta(days=1)


def ago(delta: timedelta) -> datetime:
    return datetime.now(UTC) - delta


async def add_outbox(
    conn: asyncpg.Connection, name: str, *, published: datetime | None = None, dead: datetime | None = None
) -> None:
    await conn.execute(
        "INSERT INTO gateway_event_outbox (vos_instance_id, gateway_type, gateway_name, is_online,"
        " changed_at, payload, created_at, published_at, dead_at, dead_reason)"
        " VALUES (1, 'mapping', $1, true, $2, $3, $2, $4, $5, $6)",
        name,
        ago(40 * DAY),
        json.dumps({"note": "not an event"}),
        published,
        dead,
        "bad payload" if dead else None,
    )


async def outbox_names(conn: asyncpg.Connection) -> set[str]:
    return {r["gateway_name"] for r in await conn.fetch("SELECT gateway_name FROM gateway_event_outbox")}


def customer(account: str, fetched: datetime) -> FetchResult:
    return ok(
        "GetCustomer", {"retCode": 0, "infoCustomers": []}, fetched_at=fetched, params={"accounts": [account]}
    )


async def test_the_writer_deletes_rows_past_their_retention_in_batches_and_keeps_the_rest(
    run_writer: RunWriter,
    pool: asyncpg.Pool,
    applier: BatchApplier,
    pg_conn: asyncpg.Connection,
    instance: int,
) -> None:
    old, recent = ago(8 * DAY), ago(DAY)
    scheduled = [
        ok("GetGatewayMapping", {"retCode": 0, "infoGatewayMappings": []}, fetched_at=old),
        ok("GetSuite", {"retCode": 0, "infoSuites": []}, fetched_at=old),
        failed("GetFeeRateGroup", fetched_at=old),  # a scheduled key that only ever failed
    ]
    unused = [customer(f"old-{i}", old) for i in range(5)] + [
        failed("GetCdr", fetched_at=old, params={"n": 1})
    ]
    fetched_lately = customer("recent", recent)
    read_lately = customer("read", old)  # served while fetches failed (the api marks it read)
    long_ttl = ok("GetPhone", {"retCode": 0, "infoPhones": []}, fetched_at=old, params={"e164s": ["1"]})
    long_ttl_applier = BatchApplier(pool, Settings(cache_ttls={"GetPhone": 30 * 86400}).catalogue)
    await applier.apply([*scheduled, *unused, fetched_lately, read_lately])
    await long_ttl_applier.apply([long_ttl])
    await pg_conn.execute(
        "UPDATE vos_data_cache SET last_read_at = now() - interval '1 hour' WHERE cache_key = $1",
        read_lately.cache_key,
    )
    for name, published, dead in (
        ("published-old", ago(8 * DAY), None),
        ("published-recent", ago(DAY), None),
        ("dead-old", None, ago(31 * DAY)),
        ("dead-recent", None, ago(8 * DAY)),  # dead rows keep their own, longer retention
        ("unpublished", None, None),  # never deleted, however old
    ):
        await add_outbox(pg_conn, name, published=published, dead=dead)

    settings = {
        "writer_cleanup_interval_s": 0.2,
        "writer_cleanup_batch_rows": 2,  # 6 unused cache rows: three batches, one more that finds none
    }
    async with run_writer(**settings) as writer:

        async def cleaned() -> bool:
            gone = [await cache_row(pg_conn, r) is None for r in unused]
            return all(gone) and not {"published-old", "dead-old"} & await outbox_names(pg_conn)

        await wait_for(cleaned, timeout=10, what="the rows past their retention deleted")
        counted = {
            t: writer.metrics.registry.get_sample_value(
                "vosync_writer_cleanup_deleted_total", {"table": t.value}
            )
            for t in Table
        }

    for result in [*scheduled, fetched_lately, read_lately, long_ttl]:
        assert await cache_row(pg_conn, result) is not None, result.api_name
    assert await pg_conn.fetchval("SELECT count(*) FROM vos_data_cache") == 6
    assert await outbox_names(pg_conn) == {"published-recent", "dead-recent", "unpublished"}
    assert counted == {Table.CACHE: 6.0, Table.OUTBOX: 1.0, Table.OUTBOX_DEAD: 1.0}


async def test_one_writer_cleans_at_a_time_and_the_others_skip(
    pool: asyncpg.Pool, pg_conn: asyncpg.Connection, make_settings: Callable[..., Settings], instance: int
) -> None:
    await add_outbox(pg_conn, "published-old", published=ago(8 * DAY))
    cleanup = Cleanup(pool, RetentionPolicy.from_settings(make_settings()), WriterMetrics(), 3600)
    await pg_conn.execute("SELECT pg_advisory_lock($1, $2)", *CLEANUP_LOCK)  # another writer cleaning
    try:
        assert await cleanup.run_once() == {}
        assert await outbox_names(pg_conn) == {"published-old"}
    finally:
        await pg_conn.execute("SELECT pg_advisory_unlock($1, $2)", *CLEANUP_LOCK)
    assert await cleanup.run_once() == {Table.OUTBOX: 1}
    assert await outbox_names(pg_conn) == set()


async def test_a_row_locked_by_a_batch_is_skipped_not_waited_for(
    pool: asyncpg.Pool, pg_conn: asyncpg.Connection, make_settings: Callable[..., Settings], instance: int
) -> None:
    await add_outbox(pg_conn, "held", published=ago(8 * DAY))
    await add_outbox(pg_conn, "free", published=ago(8 * DAY))
    cleanup = Cleanup(pool, RetentionPolicy.from_settings(make_settings()), WriterMetrics(), 3600)
    async with pg_conn.transaction():
        await pg_conn.execute("SELECT 1 FROM gateway_event_outbox WHERE gateway_name = 'held' FOR UPDATE")
        assert await cleanup.run_once() == {Table.OUTBOX: 1}
    assert await outbox_names(pg_conn) == {"held"}
