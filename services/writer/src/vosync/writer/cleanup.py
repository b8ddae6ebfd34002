"""The periodic cleanup: rows past their retention deleted in bounded batches (see cleanup_plan).

Every VOSYNC_WRITER_CLEANUP_INTERVAL_S, the first one interval after the writer's start: each
table's deletions run as batches of VOSYNC_WRITER_CLEANUP_BATCH_ROWS, each in its own transaction
that first tries the cleanup lock. With several writers, the one holding the lock does the batch
and the others skip it (a failed try deletes nothing); the rows a batch or the relay holds are
skipped, not waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import asyncpg

from vosync.writer.cleanup_plan import CLEANUP_LOCK, RetentionPolicy, Table
from vosync.writer.cleanup_sql import DELETE_DEAD, DELETE_PUBLISHED, DELETE_UNUSED_CACHE, TRY_LOCK
from vosync.writer.metrics import WriterMetrics

log = logging.getLogger(__name__)


class Cleanup:
    def __init__(
        self, pool: asyncpg.Pool, policy: RetentionPolicy, metrics: WriterMetrics, interval_s: float
    ) -> None:
        self._pool = pool
        self._policy = policy
        self._metrics = metrics
        self._interval_s = interval_s
        self._failing = False

    async def run(self, stop: asyncio.Event) -> None:
        # The first run one interval after start, not at once: a rolling restart of the writers
        # does not turn into a burst of deletes, and a writer that only lives briefly (a test, a
        # one-off catch-up) leaves old rows alone.
        while not await _stopped_within(stop, self._interval_s):
            try:
                await self.run_once(stop)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # PostgreSQL away: the next run tries again
                if not self._failing:
                    log.warning("cleanup failed; retrying at the next run", extra={"error": repr(exc)})
                self._failing = True
            else:
                self._failing = False

    async def run_once(self, stop: asyncio.Event | None = None) -> dict[Table, int]:
        """Delete what is past its retention now; returns the rows deleted per table."""
        now = datetime.now(UTC)
        policy = self._policy
        deleted: dict[Table, int] = {}
        steps: tuple[tuple[Table, str, tuple[list[str], ...]], ...] = (
            (Table.OUTBOX, DELETE_PUBLISHED, ()),
            (Table.OUTBOX_DEAD, DELETE_DEAD, ()),
            (Table.CACHE, DELETE_UNUSED_CACHE, (list(policy.kept_paths), list(policy.kept_keys))),
        )
        for table, sql, extra in steps:
            cutoff = policy.cutoff(table, now)
            total = 0
            while stop is None or not stop.is_set():
                count = await self._batch(sql, cutoff, extra)
                total += count
                if count:
                    self._metrics.cleanup_deleted.labels(table.value).inc(count)
                if not policy.more(count):
                    break
            if total:
                deleted[table] = total
        if deleted:
            counts = {table.value: count for table, count in deleted.items()}
            log.info("cleanup deleted rows past their retention", extra={"deleted": counts})
        return deleted

    async def _batch(self, sql: str, cutoff: datetime, extra: tuple[list[str], ...]) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval(TRY_LOCK, *CLEANUP_LOCK):
                return 0  # another writer is cleaning
            status = await conn.execute(sql, cutoff, self._policy.batch_rows, *extra)
        return int(status.rsplit(" ", 1)[-1])  # "DELETE <n>"


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()
