"""The writer's cleanup against one unbounded DELETE: how long the longest transaction holds its locks.

A backlog of published outbox rows past their retention (default 200,000) is deleted, alternately,
by the baseline, one `DELETE … WHERE published_at < cutoff` in one transaction, and by the writer's
Cleanup (batches of VOSYNC_WRITER_CLEANUP_BATCH_ROWS, 1000, each its own transaction). The figure
that matters is the longest transaction (row locks held, vacuum held back); the total time is
reported beside it. Same embedded PostgreSQL, same backlog re-seeded before every run.

    python -m benchmarks.cleanup_batches [--rows 200000] [--rounds 3]   (standalone; not in run_all)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta

import asyncpg

from benchmarks.harness import plain_pg_url, stack
from vosync.shared.settings import Settings
from vosync.writer.cleanup import Cleanup
from vosync.writer.cleanup_plan import RetentionPolicy, Table
from vosync.writer.db import create_pool
from vosync.writer.metrics import WriterMetrics

SEED = """
    INSERT INTO gateway_event_outbox (vos_instance_id, gateway_type, gateway_name, is_online,
                                      changed_at, payload, created_at, published_at)
    SELECT 1, 'mapping', 'gw-' || (i % 5000), i % 2 = 0, $2, '{"note": "old"}'::jsonb, $2, $2
    FROM generate_series(1, $1) AS i
"""
UNBOUNDED = "DELETE FROM gateway_event_outbox WHERE published_at < $1"


class TimedCleanup(Cleanup):
    """The writer's Cleanup, with the duration of each batch transaction noted."""

    batches: list[float]

    async def _batch(self, sql: str, cutoff: datetime, extra: tuple[list[str], ...]) -> int:
        started = time.perf_counter()
        count = await super()._batch(sql, cutoff, extra)
        self.batches.append(time.perf_counter() - started)
        return count


async def seed(conn: asyncpg.Connection, rows: int) -> None:
    await conn.execute("TRUNCATE gateway_event_outbox")
    await conn.execute(SEED, rows, datetime.now(UTC) - timedelta(days=30))
    await conn.execute("VACUUM ANALYZE gateway_event_outbox")


async def measure(database_url: str, rows: int, rounds: int) -> dict[str, list[float]]:
    settings = Settings(database_url=database_url)
    conn = await asyncpg.connect(plain_pg_url(database_url))
    pool = await create_pool(settings)
    seen: dict[str, list[float]] = {
        "unbounded_s": [],
        "batched_total_s": [],
        "batch_max_s": [],
        "batch_median_s": [],
    }
    try:
        cleanup = TimedCleanup(pool, RetentionPolicy.from_settings(settings), WriterMetrics(), 3600)
        for _ in range(rounds):
            await seed(conn, rows)
            started = time.perf_counter()
            async with conn.transaction():
                status = await conn.execute(UNBOUNDED, datetime.now(UTC) - timedelta(days=7))
            seen["unbounded_s"].append(time.perf_counter() - started)
            assert status == f"DELETE {rows}", status

            await seed(conn, rows)
            cleanup.batches = []
            started = time.perf_counter()
            deleted = await cleanup.run_once()
            seen["batched_total_s"].append(time.perf_counter() - started)
            seen["batch_max_s"].append(max(cleanup.batches))
            seen["batch_median_s"].append(statistics.median(cleanup.batches))
            assert deleted == {Table.OUTBOX: rows}, deleted
    finally:
        await pool.close()
        await conn.close()
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(prog="cleanup_batches", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if min(args.rows, args.rounds) < 1:
        parser.error("--rows and --rounds must be at least 1")
    with stack("cleanup_batches") as s:
        seen = asyncio.run(measure(s.database_url, args.rows, args.rounds))
    unbounded = statistics.median(seen["unbounded_s"])
    batch_max = statistics.median(seen["batch_max_s"])
    total = statistics.median(seen["batched_total_s"])
    batch_median = statistics.median(seen["batch_median_s"])
    figures: dict[str, float | int | str] = {
        "cleanup_rows": args.rows,
        "cleanup_unbounded_delete_s": round(unbounded, 3),
        "cleanup_batched_total_s": round(total, 3),
        "cleanup_longest_batch_ms": round(batch_max * 1000, 1),
        "cleanup_median_batch_ms": round(batch_median * 1000, 1),
        "cleanup_median_batch_ratio": round(batch_median / unbounded, 4),
        "cleanup_longest_transaction_ratio": round(batch_max / unbounded, 4),
        "cleanup_total_time_ratio": round(total / unbounded, 2),
    }
    # Printed, not merged into results.json: this benchmark is not (yet) part of `make bench`.
    for name, value in figures.items():
        print(f"  {name:40} {value}")


if __name__ == "__main__":
    main()
