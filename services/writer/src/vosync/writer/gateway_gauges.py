"""The writer's gateway gauges: gateways and online gateways per instance and type, and, behind
`metrics_gateway_series`, one 0/1 series per gateway.

Refreshed from the table after commits that changed an instance's data, at most once per
REFRESH_MIN_S, by one grouped query for the instances that changed, and for every instance each
REFRESH_ALL_S: the gauges say what the table says, so with several writers sharing the work any
writer's values are the system's (within REFRESH_ALL_S), and `max` across writers is safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

import asyncpg

from vosync.writer.metrics import WriterMetrics

log = logging.getLogger(__name__)

REFRESH_MIN_S = 1.0
REFRESH_ALL_S = 15.0  # every writer's gauges follow the table, also for what other writers committed

COUNTS_SQL = """
SELECT vos_instance_id, gateway_type, count(*) AS total, count(*) FILTER (WHERE is_online) AS online
FROM gateway_rows
WHERE $1::bigint[] IS NULL OR vos_instance_id = ANY($1::bigint[])
GROUP BY vos_instance_id, gateway_type
"""

STATES_SQL = """
SELECT vos_instance_id, gateway_type, gateway_name, is_online
FROM gateway_rows
WHERE $1::bigint[] IS NULL OR vos_instance_id = ANY($1::bigint[])
"""


class GatewayGauges:
    def __init__(self, pool: asyncpg.Pool, metrics: WriterMetrics, per_gateway: bool) -> None:
        self._pool = pool
        self._metrics = metrics
        self._per_gateway = per_gateway
        self._dirty: set[int] | None = None  # None: every instance (the first refresh)
        self._kick = asyncio.Event()
        self._kick.set()
        self._counted: dict[int, set[str]] = {}  # instance -> gateway types with a series
        self._named: dict[int, set[tuple[str, str]]] = {}  # instance -> (type, name) with a series

    def changed(self, instance_ids: Iterable[int]) -> None:
        ids = set(instance_ids)
        if not ids:
            return
        if self._dirty is not None:
            self._dirty |= ids
        self._kick.set()

    async def run(self, stop: asyncio.Event) -> None:
        while True:
            woke = await _first_of(self._kick, stop, wait_s=REFRESH_ALL_S)
            if woke is stop:
                return
            if woke is None:  # nothing committed here for a while: what other writers changed
                self._dirty = None
            self._kick.clear()
            dirty, self._dirty = self._dirty, set()
            try:
                await self.refresh(dirty)
            except Exception as exc:  # the database may be away: refresh everything next time
                log.debug("gateway gauges not refreshed", extra={"error": repr(exc)})
                self._dirty = None
                self._kick.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), REFRESH_MIN_S)

    async def refresh(self, instance_ids: set[int] | None) -> None:
        ids = None if instance_ids is None else sorted(instance_ids)
        async with self._pool.acquire() as conn:
            counts = await conn.fetch(COUNTS_SQL, ids)
            states = await conn.fetch(STATES_SQL, ids) if self._per_gateway else []
        scope = set(self._counted) if ids is None else set(ids)
        self._set_counts(scope | {r["vos_instance_id"] for r in counts}, counts)
        if self._per_gateway:
            self._set_states(scope | {r["vos_instance_id"] for r in states}, states)

    def _set_counts(self, scope: set[int], rows: list[asyncpg.Record]) -> None:
        m = self._metrics
        seen: dict[int, set[str]] = {i: set() for i in scope}
        for row in rows:
            inst, kind = row["vos_instance_id"], row["gateway_type"]
            m.gateways.labels(str(inst), kind).set(row["total"])
            m.gateways_online.labels(str(inst), kind).set(row["online"])
            seen[inst].add(kind)
        for inst in scope:
            for kind in self._counted.get(inst, set()) - seen[inst]:  # no gateway of that type any more
                m.gateways.remove(str(inst), kind)
                m.gateways_online.remove(str(inst), kind)
            self._counted[inst] = seen[inst]
            if not seen[inst]:
                del self._counted[inst]

    def _set_states(self, scope: set[int], rows: list[asyncpg.Record]) -> None:
        g = self._metrics.gateway_online
        seen: dict[int, set[tuple[str, str]]] = {i: set() for i in scope}
        for row in rows:
            inst, key = row["vos_instance_id"], (row["gateway_type"], row["gateway_name"])
            g.labels(str(inst), *key).set(1 if row["is_online"] else 0)
            seen[inst].add(key)
        for inst in scope:
            for key in self._named.get(inst, set()) - seen[inst]:
                g.remove(str(inst), *key)
            self._named[inst] = seen[inst]
            if not seen[inst]:
                del self._named[inst]


async def _first_of(*events: asyncio.Event, wait_s: float) -> asyncio.Event | None:
    """The first of `events` to be set (the last one wins a tie: it is the stop event), or None
    after `wait_s`."""
    for event in reversed(events):
        if event.is_set():
            return event
    waiters = {asyncio.ensure_future(e.wait()): e for e in events}
    done, pending = await asyncio.wait(waiters, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    if not done:
        return None
    return max((waiters[t] for t in done), key=events.index)
