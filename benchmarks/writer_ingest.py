"""Writer ingest: a 10,000-gateway snapshot (config + online) of one instance into PostgreSQL.

vosync (`writer_snapshot_10k_s`): the two FetchResults (GetGatewayMapping with 10,000 items,
GetGatewayMappingOnline listing all of them) are published, one after the other as the poller does,
to VOS_RESULTS and consumed by a real `vosync-writer` process; the time runs from the first publish
to the commit of both, which the writer announces right after each commit on
`vos.cache.changed.<instance>` (cache rows, 10,000 gateway rows, 10,000 first-seen-online events).
The writer takes them as two transactions (the second updates every row again). Each run starts
from empty tables, as a first sync does. `writer_snapshot_10k_in_transactions_s` is the part of it
spent inside the writer's transactions (its /metrics).

`writer_snapshot_10k_one_batch_s`: both replies (already decoded) applied by the writer's batch code
in one transaction, as when they are queued together: each row written once (with the cyclic GC
paused, as the writer's consumer does).

Floors, in the same run, one sample of each after every vosync run (alternated with it):
- `writer_jsonb_floor_s` is PostgreSQL alone receiving the config reply's text (26.8 MB) and parsing
  it as jsonb (`SELECT pg_column_size($1::jsonb)`, nothing stored). Every design that keeps the
  contract's JSONB (`vos_data_cache.response_data`, or the config items of `gateways.raw_data`) pays
  it at least once per snapshot.
- `writer_contract_floor_s` is PostgreSQL alone storing what the contract asks of a snapshot and no
  more: both replies as jsonb in a cache table and, per gateway, one row with its config and online
  items, in one statement and one transaction (each reply parsed once, each row written once; no
  structured columns, no outbox, no Python), into logged tables of a scratch schema. It is what the
  double write costs on this machine before any code of ours runs.
Baseline, in the same run on the same data: the older system's per-row way (yk-vos
`_sync_gateway_type`): an ORM session, for each gateway one SELECT by (instance, name) and then an
UPDATE or an INSERT of the mapped row with its online data merged in, the reply saved to
vos_data_cache, one commit. It gets the replies already decoded (no bus, no decoding).

    python -m benchmarks.writer_ingest [--gateways 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import nats
import pydantic_core
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from benchmarks.common import record
from benchmarks.harness import Stack, plain_pg_url, stack
from vosync.shared import bus
from vosync.shared.codec import decode, encode
from vosync.shared.db.engine import make_engine
from vosync.shared.db.models import Gateway, VosDataCache
from vosync.shared.gc_pause import gc_paused
from vosync.shared.messages import CacheChanged, FetchResult
from vosync.shared.settings import Settings
from vosync.sim.replies import mapping_item, mapping_online_item, names, ok, reply
from vosync.writer.apply import BatchApplier
from vosync.writer.db import create_pool

INSTANCE_ID = 1
CONFIG, ONLINE = "GetGatewayMapping", "GetGatewayMappingOnline"
COMMIT_TIMEOUT_S = 120.0


def snapshot(count: int, fetched_at: datetime) -> tuple[FetchResult, FetchResult]:
    gateway_names = names("gw", count)
    config = reply(CONFIG, [mapping_item(n, i) for i, n in enumerate(gateway_names)])
    online = reply(ONLINE, [mapping_online_item(n, i) for i, n in enumerate(gateway_names)])
    return (
        ok(CONFIG, config, instance_id=INSTANCE_ID, fetched_at=fetched_at),
        ok(ONLINE, online, instance_id=INSTANCE_ID, fetched_at=fetched_at + timedelta(milliseconds=5)),
    )


async def add_bench_instance(conn: asyncpg.Connection) -> None:
    """The instance the snapshots belong to (never polled: its base_url leads nowhere)."""
    await conn.execute(
        "INSERT INTO vos_instances (id, name, base_url) VALUES ($1, 'bench', 'http://127.0.0.1:9')",
        INSTANCE_ID,
    )


async def empty_tables(conn: asyncpg.Connection) -> None:
    await conn.execute("TRUNCATE gateway_event_outbox, gateway_rows, vos_data_cache")


async def outbox_published(conn: asyncpg.Connection, timeout_s: float = COMMIT_TIMEOUT_S) -> None:
    """Wait until the writer's relay has sent the previous run's events (so it idles during a run)."""
    deadline = time.monotonic() + timeout_s
    while await conn.fetchval("SELECT count(*) FROM gateway_event_outbox WHERE published_at IS NULL"):
        if time.monotonic() > deadline:
            raise TimeoutError("outbox not published")
        await asyncio.sleep(0.1)


async def vosync_run(
    js: nats.js.JetStreamContext,
    nc: NatsClient,
    conn: asyncpg.Connection,
    count: int,
    fetched_at: datetime,
) -> float:
    """Publish the two replies one after the other; the time until the writer has committed both."""
    config, online = snapshot(count, fetched_at)
    messages = []
    for result in (config, online):
        body, headers = encode(result)
        headers["Nats-Msg-Id"] = result.msg_id
        messages.append((bus.result_subject(INSTANCE_ID, result.api_name), body, headers))
    waiting = {config.cache_key, online.cache_key}
    committed = asyncio.Event()

    async def on_change(msg: Msg) -> None:
        waiting.difference_update(decode(CacheChanged, msg.data, msg.headers).cache_keys)
        if not waiting:
            committed.set()

    sub = await nc.subscribe(bus.cache_changed_subject(INSTANCE_ID), cb=on_change)
    await nc.flush()
    started = time.perf_counter()
    for subject, body, headers in messages:
        await js.publish(subject, body, headers=headers, timeout=30)
    await asyncio.wait_for(committed.wait(), COMMIT_TIMEOUT_S)
    elapsed = time.perf_counter() - started
    await sub.unsubscribe()
    await check_committed(conn, count)
    return elapsed


async def one_batch_run(
    applier: BatchApplier, conn: asyncpg.Connection, count: int, fetched_at: datetime
) -> float:
    results = list(snapshot(count, fetched_at))
    started = time.perf_counter()
    with gc_paused():  # as the writer's consumer applies a batch
        await applier.apply(results)
    elapsed = time.perf_counter() - started
    await check_committed(conn, count)
    return elapsed


def reply_texts(count: int, fetched_at: datetime) -> tuple[bytes, bytes]:
    """The JSON text of a snapshot's config and online replies, as both floors send them."""
    config, online = snapshot(count, fetched_at)
    return pydantic_core.to_json(config.response), pydantic_core.to_json(online.response)


async def jsonb_floor(conn: asyncpg.Connection, config_text: bytes) -> float:
    """PostgreSQL receiving the config reply's text and parsing it as jsonb, nothing more."""
    text = config_text.decode()
    started = time.perf_counter()
    await conn.fetchval("SELECT pg_column_size($1::jsonb)", text)
    return time.perf_counter() - started


CONTRACT_TABLES = """
    DROP SCHEMA IF EXISTS bench_floor CASCADE;
    CREATE SCHEMA bench_floor;
    CREATE TABLE bench_floor.cache (id int PRIMARY KEY, response_data jsonb NOT NULL);
    CREATE TABLE bench_floor.gateways (
        id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, config_data jsonb, online_data jsonb);
"""

# The replies go as the writer sends them (UTF-8 bytes read by convert_from); the config list is
# joined to the online list by name, so that every row is inserted once with both of its items.
CONTRACT_WRITE = """
    WITH config AS (SELECT convert_from($1::bytea, 'UTF8')::jsonb AS doc),
         online AS (SELECT convert_from($2::bytea, 'UTF8')::jsonb AS doc),
         cached AS (
             INSERT INTO bench_floor.cache SELECT 1, doc FROM config UNION ALL SELECT 2, doc FROM online),
         online_items AS (
             SELECT o.item ->> 'name' AS name, o.item
             FROM online, jsonb_array_elements(online.doc -> 'infoGatewayMappingOnlines') AS o(item))
    INSERT INTO bench_floor.gateways (name, config_data, online_data)
    SELECT c.item ->> 'name', c.item, online_items.item
    FROM config
    CROSS JOIN LATERAL jsonb_array_elements(config.doc -> 'infoGatewayMappings') AS c(item)
    LEFT JOIN online_items ON online_items.name = c.item ->> 'name'
"""


async def contract_floor(conn: asyncpg.Connection, texts: tuple[bytes, bytes], count: int) -> float:
    """PostgreSQL alone storing both replies and one row per gateway with its two items."""
    await conn.execute(CONTRACT_TABLES)
    try:
        started = time.perf_counter()
        async with conn.transaction():
            await conn.execute(CONTRACT_WRITE, *texts)
        elapsed = time.perf_counter() - started
        stored = await conn.fetchval(
            "SELECT count(*) FROM bench_floor.gateways"
            " WHERE config_data IS NOT NULL AND online_data IS NOT NULL"
        )
        replies = await conn.fetchval("SELECT count(*) FROM bench_floor.cache")
    finally:
        await conn.execute("DROP SCHEMA bench_floor CASCADE")
    if stored != count or replies != 2:
        raise AssertionError(f"contract floor stored {replies} replies, {stored} complete rows of {count}")
    return elapsed


async def check_committed(conn: asyncpg.Connection, count: int) -> None:
    rows = await conn.fetchrow(
        "SELECT count(*) AS total, count(*) FILTER (WHERE is_online AND in_config) AS online"
        " FROM gateway_rows"
    )
    events = await conn.fetchval("SELECT count(*) FROM gateway_event_outbox")
    if rows["total"] != count or rows["online"] != count or events != count:
        raise AssertionError(f"incomplete commit: {dict(rows)}, {events} events")


def _first_ip(csv: Any) -> tuple[str | None, list[str] | None]:
    ips = [p.strip() for p in str(csv or "").split(",") if p.strip()]
    return (ips[0] if ips else None), (ips or None)


def _mapped(config: dict[str, Any], online: dict[str, Any] | None, at: datetime) -> dict[str, Any]:
    """The older system's column mapping, with the real field names (as vosync reads them)."""
    ip, ips = _first_ip(config.get("remoteIps"))
    sources = {
        "config": {"api": CONFIG, "synced_at": at.isoformat()},
        "online": {"api": ONLINE, "synced_at": at.isoformat()} if online else None,
    }
    return {
        "in_config": True,
        "ip_address": ip,
        "remote_ips": ips,
        "capacity": config.get("capacity"),
        "register_type": config.get("registerType"),
        "lock_type": config.get("lockType"),
        "is_online": online is not None,
        "asr": online.get("asr") if online else None,
        "acd": online.get("acd") if online else None,
        "concurrent_calls": online.get("currentCall") if online else None,
        "online_changed_at": at if online else None,
        "config_data": config,
        "online_data": online,
        "data_sources": sources,  # raw_data is computed from these (a generated column)
        "synced_at": at,
        "online_synced_at": at,
    }


async def per_row_run(engine: AsyncEngine, count: int, fetched_at: datetime) -> float:
    config, online = snapshot(count, fetched_at)
    assert config.response is not None and online.response is not None
    online_by_name = {item["name"]: item for item in online.response["infoGatewayMappingOnlines"]}
    started = time.perf_counter()
    async with AsyncSession(engine, expire_on_commit=False) as session:
        for item in config.response["infoGatewayMappings"]:
            values = _mapped(item, online_by_name.get(item["name"]), fetched_at)
            existing = (
                await session.execute(
                    select(Gateway).where(
                        Gateway.vos_instance_id == INSTANCE_ID,
                        Gateway.gateway_type == "mapping",
                        Gateway.gateway_name == item["name"],
                    )
                )
            ).scalar_one_or_none()
            if existing is None:
                session.add(
                    Gateway(
                        vos_instance_id=INSTANCE_ID,
                        gateway_type="mapping",
                        gateway_name=item["name"],
                        **values,
                    )
                )
            else:
                for column, value in values.items():
                    setattr(existing, column, value)
        session.add(
            VosDataCache(
                vos_instance_id=INSTANCE_ID,
                api_path=config.api_path,
                api_name=CONFIG,
                cache_key=config.cache_key,
                query_params={},
                response_data=config.response,
                is_valid=True,
                ret_code=0,
                synced_at=fetched_at,
                expires_at=fetched_at + timedelta(hours=1),
                last_attempt_at=fetched_at,
            )
        )
        await session.commit()
    return time.perf_counter() - started


def writer_batches(s: Stack) -> tuple[float, float]:
    """(batches committed, seconds spent applying them) so far, from the writer's /metrics."""
    with urllib.request.urlopen(s.ops_urls["writer"] + "/metrics", timeout=5) as resp:
        text = resp.read().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith("vosync_writer_batch_seconds_"):
            name, value = line.split()
            values[name] = float(value)
    return values.get("vosync_writer_batch_seconds_count", 0.0), values.get(
        "vosync_writer_batch_seconds_sum", 0.0
    )


async def measure(s: Stack, count: int, runs: int) -> dict[str, float | int | str]:
    conn = await asyncpg.connect(plain_pg_url(s.database_url))
    nc = await nats.connect(s.nats_url)
    settings = Settings(database_url=s.database_url)
    engine = make_engine(settings, pool_size=1)
    pool = await create_pool(settings)
    applier = BatchApplier(pool, settings.catalogue)
    try:
        await add_bench_instance(conn)
        js = nc.jetstream()
        base = datetime.now(UTC)
        published: list[float] = []
        in_transactions: list[float] = []
        one_batch: list[float] = []
        floors: list[float] = []
        contract_floors: list[float] = []
        texts = reply_texts(count, base)
        for run in range(runs):
            await outbox_published(conn)
            await empty_tables(conn)
            before = writer_batches(s)
            published.append(await vosync_run(js, nc, conn, count, base + timedelta(minutes=2 * run)))
            after = writer_batches(s)
            in_transactions.append(after[1] - before[1])
            print(
                f"  vosync run {run + 1}: {published[-1]:.3f} s ({after[0] - before[0]:.0f} transactions,"
                f" {in_transactions[-1]:.3f} s in them)",
                flush=True,
            )
            await outbox_published(conn)
            await empty_tables(conn)
            one_batch.append(await one_batch_run(applier, conn, count, base + timedelta(minutes=2 * run + 1)))
            print(f"  one-batch apply {run + 1}: {one_batch[-1]:.3f} s", flush=True)
            floors.append(await jsonb_floor(conn, texts[0]))
            contract_floors.append(await contract_floor(conn, texts, count))
            print(
                f"  floors {run + 1}: jsonb parse {floors[-1]:.3f} s, the contract's writes in SQL"
                f" {contract_floors[-1]:.3f} s",
                flush=True,
            )
        floor, contract = statistics.median(floors), statistics.median(contract_floors)
        await outbox_published(conn)
        await empty_tables(conn)
        per_row = await per_row_run(engine, count, base + timedelta(minutes=2 * runs))
        print(f"  per-row run: {per_row:.3f} s", flush=True)
        total = await conn.fetchval("SELECT count(*) FROM gateway_rows")
        if total != count:
            raise AssertionError(f"per-row baseline wrote {total} gateways")
    finally:
        await pool.close()
        await engine.dispose()
        await nc.close()
        await conn.close()
    median = statistics.median(published)
    return {
        "writer_snapshot_10k_s": round(median, 3),
        "writer_snapshot_10k_best_s": round(min(published), 3),
        "writer_snapshot_10k_in_transactions_s": round(statistics.median(in_transactions), 3),
        "writer_snapshot_10k_one_batch_s": round(statistics.median(one_batch), 3),
        "writer_jsonb_floor_s": round(floor, 3),
        "writer_contract_floor_s": round(contract, 3),
        "writer_snapshot_vs_floor_ratio": round(median / floor, 2),
        "writer_snapshot_vs_contract_floor_ratio": round(median / contract, 2),
        "writer_contract_floor_vs_floor_ratio": round(contract / floor, 2),
        "writer_per_row_10k_s": round(per_row, 3),
        "writer_vs_per_row_ratio": round(per_row / median, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="writer_ingest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateways", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"writer ingest: {args.gateways} gateways (config + online), {args.runs} runs", flush=True)
    with stack("writer_ingest") as s:
        s.start_writer()
        figures = asyncio.run(measure(s, args.gateways, args.runs))
        figures["writer_ingest_peak_rss_mb"] = round(s.peak_rss_mb("writer"), 1)
    if args.gateways == 10_000:
        record(figures)
    else:
        for name, value in figures.items():
            print(f"  {name:44} {value}")


if __name__ == "__main__":
    main()
