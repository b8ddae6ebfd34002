"""Gateway history (issue 20): what it costs the writer, how fast one gateway's week reads, how much
disk a day takes.

`history_poll_on_s` / `history_poll_off_s`: the writer's batch transaction for one online poll of
10,000 gateways (every figure changed, 10 gateways flipping), with history on and off, alternated
in the same run on the same database (median of the runs); each poll is in a new minute, so every
"on" poll writes 10,000 samples and its transitions. `history_poll_on_same_minute_s`: a second poll
in a minute already sampled (the mark stops it). Ratio on/off = the cost history adds per poll;
`history_step_new_minute_ms` / `…_same_minute_ms`: the history step alone inside those "on"
transactions (COPY of the transitions + the sampling statement, in their savepoint), timed in place.

`history_query_7d_p50_ms` (goal < 50 ms): HistoryService.gateway (the route's service: gateway row,
7 days of transitions, hourly rollups + the raw hours after the last rollup) for one gateway over
7 days, with 7 days of per-minute samples of 1,000 gateways (`--query-gateways`; 10 M rows) loaded
set-based (generate_series) and rolled up as the writer's maintenance does;
`history_query_24h_p50_ms` the same over 24 h (1,440 raw samples). `…_floor_p50_ms`: `SELECT 1`
on the same engine, alternated with the reads (what the shared machine adds to any query).

`history_samples_bytes_per_day_10k` etc.: pg_total_relation_size (heap + indexes) of the loaded
sample partitions per day, scaled to 10,000 gateways (`…_per_row` as measured), and the rows a day.

    python -m benchmarks.history [--gateways 10000] [--days 7] [--runs 5] [--query-gateways 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import text

from benchmarks.common import embedded_servers, record
from tests.unit.writer.vos_replies import mapping_item, mapping_online_item, names, ok, reply
from vosync.api.domain.history.service import HistoryService
from vosync.api.lib.directory import InstanceInfo
from vosync.shared.db.engine import make_engine
from vosync.shared.db.migrate import upgrade
from vosync.shared.gc_pause import gc_paused
from vosync.shared.settings import Settings
from vosync.writer import apply
from vosync.writer.apply import BatchApplier
from vosync.writer.db import create_pool
from vosync.writer.history_maintenance import run_round

INSTANCE_ID = 1
CONFIG, ONLINE = "GetGatewayMapping", "GetGatewayMappingOnline"
FLIPS = 10
QUERIES = 40


def _online_poll(gateway_names: list[str], k: int, at: datetime) -> object:
    """Every figure changed; FLIPS gateways (a different set each poll) not listed: offline."""
    down = {gateway_names[(k * FLIPS + j) % len(gateway_names)] for j in range(FLIPS)}
    items = [
        mapping_online_item(n, i, currentCall=(i + k) % 40, asr=0.3 + ((i + k) % 60) / 100)
        for i, n in enumerate(gateway_names)
        if n not in down
    ]
    return ok(ONLINE, reply(ONLINE, items), instance_id=INSTANCE_ID, fetched_at=at)


async def _timed(applier: BatchApplier, result: object) -> float:
    started = time.perf_counter()
    with gc_paused():  # as the writer's consumer applies a batch
        await applier.apply([result])  # type: ignore[list-item]
    return time.perf_counter() - started


class _HistoryClock:
    """Times the history step inside the writer's transaction (the part history adds, measured
    alone: on this shared machine, whole-poll medians differ by more than it)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._original = apply._Transaction._write_history

    def __enter__(self) -> _HistoryClock:
        clock, original = self, self._original

        async def timed(tx: Any, transitions: Any, event_ids: Any) -> None:
            started = time.perf_counter()
            try:
                await original(tx, transitions, event_ids)
            finally:
                clock.seconds.append(time.perf_counter() - started)

        apply._Transaction._write_history = timed  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *_: object) -> None:
        apply._Transaction._write_history = self._original  # type: ignore[method-assign]


async def writer_cost(settings: Settings, count: int, runs: int) -> dict[str, float]:
    pool = await create_pool(settings)
    on = BatchApplier(pool, settings.catalogue, history=True)
    off = BatchApplier(pool, settings.catalogue, history=False)
    gateway_names = names("gw", count)
    start = (datetime.now(UTC) - timedelta(hours=20)).replace(second=0, microsecond=0)
    try:
        config = reply(CONFIG, [mapping_item(n, i) for i, n in enumerate(gateway_names)])
        await on.apply([ok(CONFIG, config, instance_id=INSTANCE_ID, fetched_at=start)])
        await _timed(on, _online_poll(gateway_names, 0, start + timedelta(seconds=30)))  # first sight
        times: dict[str, list[float]] = {"on": [], "off": [], "same": []}
        step: dict[str, list[float]] = {"on": [], "same": []}
        k = 1
        for _ in range(runs):
            # A new minute with history on, the same minute again (its mark says it is sampled: the
            # time must move forward, or the cache row would take it for stale), then a new minute
            # with history off: alternated, so all three see the same machine load.
            for mode, at in (
                ("on", start + timedelta(minutes=k, seconds=5)),
                ("same", start + timedelta(minutes=k, seconds=35)),
                ("off", start + timedelta(minutes=k + 1, seconds=5)),
            ):
                with _HistoryClock() as clock:
                    applier = off if mode == "off" else on
                    times[mode].append(await _timed(applier, _online_poll(gateway_names, k, at)))
                if mode != "off":
                    step[mode].extend(clock.seconds)
                k += 1
        async with pool.acquire() as conn:
            samples = await conn.fetchval("SELECT count(*) FROM gateway_samples")
    finally:
        await pool.close()
    on_s, off_s = statistics.median(times["on"]), statistics.median(times["off"])
    print(
        f"  poll of {count}: on {on_s:.3f} s, off {off_s:.3f} s,"
        f" same minute {statistics.median(times['same']):.3f} s"
    )
    return {
        "history_poll_on_s": round(on_s, 3),
        "history_poll_off_s": round(off_s, 3),
        "history_poll_on_same_minute_s": round(statistics.median(times["same"]), 3),
        "history_poll_on_over_off": round(on_s / off_s, 2),
        "history_step_new_minute_ms": round(statistics.median(step["on"]) * 1000, 1),
        "history_step_same_minute_ms": round(statistics.median(step["same"]) * 1000, 1),
        "history_poll_samples_written": int(samples),
    }


LOAD_SAMPLES = """
    INSERT INTO gateway_samples (gateway_id, at, concurrent_calls, asr, acd)
    SELECT g.id, m.at, (g.id + extract(minute FROM m.at))::int % 40,
           0.3 + ((g.id + extract(minute FROM m.at))::int % 60) / 100.0, 60 + g.id % 120
    FROM gateways g
    CROSS JOIN generate_series(
        $1::timestamptz, $2::timestamptz - interval '1 minute', interval '1 minute') AS m(at)
    WHERE g.vos_instance_id = $3
"""
LOAD_ROLLUPS = """
    INSERT INTO gateway_samples_hourly (
        gateway_id, at, samples, calls_min, calls_avg, calls_max,
        asr_min, asr_avg, asr_max, acd_min, acd_avg, acd_max)
    SELECT gateway_id, date_trunc('hour', at), count(*),
           min(concurrent_calls), avg(concurrent_calls), max(concurrent_calls),
           min(asr), avg(asr), max(asr), min(acd), avg(acd), max(acd)
    FROM gateway_samples WHERE at >= $1 AND at < $2
    GROUP BY 1, 2
    ON CONFLICT (gateway_id, at) DO NOTHING
"""
LOAD_MARKS = """
    INSERT INTO gateway_rollup_marks (at, rows)
    SELECT h, $3
    FROM generate_series($1::timestamptz, $2::timestamptz - interval '1 hour', interval '1 hour') AS h
    ON CONFLICT (at) DO UPDATE SET rows = excluded.rows
"""


async def query_speed(
    settings: Settings, conn: asyncpg.Connection, count: int, days: int
) -> dict[str, float]:
    """`count` gateways with `days` of per-minute samples; the 7 d and 24 h reads of one gateway."""
    now = datetime.now(UTC)
    await conn.execute(
        "TRUNCATE gateway_samples, gateway_samples_hourly, gateway_rollup_marks, gateway_sample_marks"
    )
    await conn.execute("DELETE FROM gateways WHERE vos_instance_id = $1", INSTANCE_ID)
    await conn.execute(
        "INSERT INTO gateways"
        " (vos_instance_id, gateway_type, gateway_name, in_config, is_online, online_synced_at)"
        " SELECT $1, 'mapping', 'gw-' || lpad(i::text, 5, '0'), true, true, now()"
        " FROM generate_series(1, $2) i",
        INSTANCE_ID,
        count,
    )
    # The partitions of the whole week, as a writer running through it would have made them.
    for d in range(days + 1):
        await run_round(conn, settings, now=now - timedelta(days=d))
    first_day = (now - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    started = time.perf_counter()
    day = first_day
    end_minute = now.replace(second=0, microsecond=0)
    while day < end_minute:  # one day per statement: each fills one partition
        upto = min(day + timedelta(days=1), end_minute)
        await conn.execute(LOAD_SAMPLES, day, upto, INSTANCE_ID)
        day = upto
    load_s = time.perf_counter() - started
    last_hour = now.replace(minute=0, second=0, microsecond=0)
    await conn.execute(LOAD_ROLLUPS, first_day, last_hour)
    await conn.execute(LOAD_MARKS, first_day, last_hour, count)
    await conn.execute("ANALYZE gateway_samples")
    await conn.execute("ANALYZE gateway_samples_hourly")
    rows = await conn.fetchval("SELECT count(*) FROM gateway_samples")
    assert await conn.fetchval("SELECT count(*) FROM gateway_rollup_marks WHERE rows > 0") >= 24 * days
    print(f"  loaded {rows} samples ({count} gateways, {days} days) in {load_s:.0f} s")

    # One full day's partition, measured: heap + indexes.
    full_day = (first_day + timedelta(days=1)).strftime("%Y%m%d")
    day_bytes = await conn.fetchval(f"SELECT pg_total_relation_size('gateway_samples_p{full_day}')")
    day_rows = await conn.fetchval(f"SELECT count(*) FROM gateway_samples_p{full_day}")
    rollup_bytes = await conn.fetchval(
        "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'gateway_samples_hourly'::regclass"
    )
    rollup_rows = await conn.fetchval("SELECT count(*) FROM gateway_samples_hourly")

    engine = make_engine(settings, application_name="bench-history")
    service = HistoryService(engine)
    instance = InstanceInfo(INSTANCE_ID, "bench", True)
    figures: dict[str, float] = {}
    try:
        for label, span in (("7d", timedelta(days=7)), ("24h", timedelta(hours=24))):
            took, floor = [], []
            points = 0
            for q in range(QUERIES):
                name = f"gw-{(q * 7919) % count + 1:05d}"
                t = datetime.now(UTC)
                started = time.perf_counter()
                found = await service.gateway(instance, "mapping", name, t - span, t, t)
                took.append((time.perf_counter() - started) * 1000)
                assert found is not None and found.samples, name
                points = len(found.samples)
                # The floor, alternated with it: one trivial query on the same engine (on a shared
                # machine most of a few-ms read is waiting for a core).
                started = time.perf_counter()
                async with engine.connect() as c:
                    await c.execute(text("SELECT 1"))
                floor.append((time.perf_counter() - started) * 1000)
            figures[f"history_query_{label}_p50_ms"] = round(statistics.median(took[3:]), 2)  # warm
            figures[f"history_query_{label}_floor_p50_ms"] = round(statistics.median(floor[3:]), 2)
            print(
                f"  {label} of one gateway: p50 {figures[f'history_query_{label}_p50_ms']} ms"
                f" ({points} points; SELECT 1 p50 {figures[f'history_query_{label}_floor_p50_ms']} ms)"
            )
    finally:
        await engine.dispose()
    per_row = day_bytes / day_rows
    figures |= {
        "history_query_loaded_samples": int(rows),
        "history_samples_rows_per_day_10k": 10_000 * 1440,
        "history_samples_bytes_per_row": round(per_row, 1),
        "history_samples_mb_per_day_10k": round(per_row * 10_000 * 1440 / 1024**2),
        "history_rollups_mb_per_day_10k": round(float(rollup_bytes) / rollup_rows * 10_000 * 24 / 1024**2, 1),
    }
    return figures


async def transition_bytes(conn: asyncpg.Connection) -> float:
    rows = await conn.fetchval("SELECT count(*) FROM gateway_transitions")
    size = await conn.fetchval(
        "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'gateway_transitions'::regclass"
    )
    return round(float(size) / rows, 1) if rows else 0.0


async def measure(
    db_url: str, count: int, days: int, runs: int, query_gateways: int, writer_only: bool = False
) -> dict[str, float | int | str]:
    settings = Settings(database_url=db_url, history_samples_days=days + 2)
    url = settings.require_database_url()
    await upgrade(url)
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(
            "INSERT INTO vos_instances (id, name, base_url) VALUES ($1, 'bench', 'http://127.0.0.1:9')",
            INSTANCE_ID,
        )
        await run_round(conn, settings)
        figures: dict[str, float | int | str] = {}
        figures |= await writer_cost(settings, count, runs)
        figures["history_transition_bytes_per_row"] = await transition_bytes(conn)
        if not writer_only:
            figures |= await query_speed(settings, conn, query_gateways, days)
    finally:
        await conn.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="history", description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateways", type=int, default=10_000, help="gateways per online poll")
    parser.add_argument("--days", type=int, default=7, help="days of samples loaded for the query")
    parser.add_argument("--runs", type=int, default=5, help="polls per mode (on, off, same minute)")
    parser.add_argument("--writer-only", action="store_true", help="the poll cost only (records nothing)")
    # 1,000 by default: 7 days of 10,000 gateways is 100 M rows (~10 GB, ~20 min to load here), and
    # one gateway's read walks its own (gateway_id, at) range, one B-tree level from the full size.
    parser.add_argument("--query-gateways", type=int, default=1_000, help="gateways with samples loaded")
    args = parser.parse_args()
    print(
        f"history: {args.gateways} gateways per poll, {args.query_gateways} x {args.days} days of samples",
        flush=True,
    )
    with embedded_servers(durable=False) as (_nats_url, db_url):
        figures = asyncio.run(
            measure(db_url, args.gateways, args.days, args.runs, args.query_gateways, args.writer_only)
        )
    for name, value in figures.items():
        print(f"  {name:44} {value}")
    if args.gateways == 10_000 and args.query_gateways == 1_000 and args.days == 7 and not args.writer_only:
        record(figures)


if __name__ == "__main__":
    main()
