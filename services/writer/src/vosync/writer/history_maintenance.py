"""The writer's history upkeep, once at start and every minute: partitions ahead, expired partitions
dropped, hourly rollups of the completed hours.

Any number of writers may run it: each round takes a transaction-level advisory lock with
pg_try_advisory_xact_lock, and a writer that does not get it skips the round (another is doing it).
Creating or dropping a partition locks the parent table briefly; `lock_timeout` bounds how long a
round may wait behind (or hold up) a batch, and a round that times out is tried again a minute later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg

from vosync.shared.settings import Settings
from vosync.writer import history_sql
from vosync.writer.history_partitions import ROLLUPS, SAMPLES, TRANSITIONS, Family, expired, missing

log = logging.getLogger(__name__)

INTERVAL_S = 60.0
ROLLUP_LOOKBACK = timedelta(hours=48)  # a writer down longer leaves older hours without rollups
ROLLUP_GRACE = timedelta(minutes=2)  # polls of an hour that land a little late still count
SAMPLE_MARKS_KEPT = timedelta(days=1)
LOCK_TIMEOUT = "2s"


def families(settings: Settings) -> list[Family]:
    return [
        Family(TRANSITIONS, "day", settings.history_transitions_days),
        Family(SAMPLES, "day", settings.history_samples_days),
        Family(ROLLUPS, "month", settings.history_rollups_days),
    ]


@dataclass(slots=True)
class RoundReport:
    ran: bool = False  # False: another writer held the lock
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    rolled_up: dict[str, int] = field(default_factory=dict)  # hour (ISO) → rollup rows


async def run_round(conn: asyncpg.Connection, settings: Settings, now: datetime | None = None) -> RoundReport:
    """One maintenance round on `conn`; `now` is for tests (old data, a clock moved ahead)."""
    now = now or datetime.now(UTC)
    report = RoundReport()
    async with conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1, $2)", *history_sql.MAINTENANCE_LOCK):
            return report
        report.ran = True
        await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        for family in families(settings):
            existing = [r["relname"] for r in await conn.fetch(history_sql.PARTITIONS_OF, family.parent)]
            for partition in missing(family, now, existing):
                await conn.execute(history_sql.create_partition(partition))
                report.created.append(partition.name)
            for partition in expired(family, now, existing):
                await conn.execute(history_sql.drop_partition(partition))
                report.dropped.append(partition.name)
        await conn.execute(history_sql.PRUNE_SAMPLE_MARKS, now - SAMPLE_MARKS_KEPT)
        await conn.execute(
            history_sql.PRUNE_ROLLUP_MARKS, now - timedelta(days=settings.history_rollups_days)
        )
    # Rollups in their own transactions: an hour of 10,000 gateways is 600,000 samples read.
    last_complete = (now - ROLLUP_GRACE).replace(minute=0, second=0, microsecond=0)
    first = (now - ROLLUP_LOOKBACK).replace(minute=0, second=0, microsecond=0)
    if last_complete > first:
        for record in await conn.fetch(history_sql.HOURS_TO_ROLL_UP, first, last_complete):
            hour = record["at"]
            async with conn.transaction():
                if not await conn.fetchval(
                    "SELECT pg_try_advisory_xact_lock($1, $2)", *history_sql.MAINTENANCE_LOCK
                ):
                    break
                rows = await conn.fetchval(history_sql.ROLL_UP_HOUR, hour)
            if rows:  # an hour without samples is looked at again next round, not reported
                report.rolled_up[hour.isoformat()] = int(rows)
    if report.created or report.dropped or report.rolled_up:
        log.info(
            "history maintenance",
            extra={
                "partitions_created": report.created,
                "partitions_dropped": report.dropped,
                "rolled_up_hours": len(report.rolled_up),
                "rollup_rows": sum(report.rolled_up.values()),
            },
        )
    return report


class HistoryMaintenance:
    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self._pool = pool
        self._settings = settings
        self._failing = False

    async def round(self) -> RoundReport | None:
        try:
            async with self._pool.acquire() as conn:
                report = await run_round(conn, self._settings)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # PostgreSQL away, or a lock timeout: the next round tries again
            if not self._failing:
                log.warning("history maintenance failed; retrying in a minute", extra={"error": repr(exc)})
            self._failing = True
            return None
        if self._failing:
            log.info("history maintenance working again")
        self._failing = False
        return report

    async def run(self, stop: asyncio.Event) -> None:
        """Every minute after the first round (which the service runs before consuming)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), INTERVAL_S)
            if not stop.is_set():
                await self.round()
