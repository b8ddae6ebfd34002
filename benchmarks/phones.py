"""Phones (issue 22): 10,000 online phones, 1 % of them changing per cycle.

VOS calls per cycle (`phones_vos_calls_per_cycle`): the real poller (in this process, on the
benchmark's own NATS) against the VOS simulator holding 10,000 online phones; before each cycle 1 %
of them change (50 drop, 50 others register), and the simulator counts every GetAllPhoneOnline and
GetPhoneOnline it answers. Measured once the first sweep of details is done (10,000 new numbers at
2,000 per poll: five polls). Baseline, alternated with it in the same run: the same poller asking
the details of every listed number every cycle (`phone_detail_max_per_poll` and
`…_refresh_per_poll` = 10,000), what "fetch the details" means without knowing what changed.

Writer cost per cycle (`phones_writer_cycle_s`): the cycle's results (the 10,000-number listing and
the detail batches the poller asks for: the 50 new numbers and 200 refreshed ones) applied by the
writer's batch code in one transaction, on a phones table already holding the 10,000; with the rows
it rewrites and the events it writes. Baselines, alternated with it: the same with every number's
details (`phones_writer_full_details_cycle_s`, 50 batches), and the older system's per-row way
(yk-vos `sync_phones_online`: every phone set offline, then per listed number one SELECT and an
UPDATE or INSERT, one commit; `phones_legacy_cycle_s`), which keeps no details and sends no event.

    python -m benchmarks.phones [--phones 10000] [--cycles 6]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from benchmarks.common import embedded_servers, record
from benchmarks.harness import plain_pg_url
from vosync.poller.phone_details import DetailLimits, PhoneDetailTracker
from vosync.poller.service import PollerService
from vosync.shared import bus
from vosync.shared.cache_key import cache_key
from vosync.shared.catalogue import API_PATH_PREFIX
from vosync.shared.db.migrate import upgrade
from vosync.shared.gc_pause import gc_paused
from vosync.shared.instances import InstanceRecord
from vosync.shared.messages import FetchReason, FetchResult
from vosync.shared.settings import Settings
from vosync.sim.cluster import SimCluster
from vosync.sim.state import InstanceState
from vosync.writer.apply import BatchApplier
from vosync.writer.db import create_pool

INSTANCE_ID = 1
CHANGE = 0.01
POLL_S = 1.5
# Everything but the phone listing as good as never (the first runs fall in the first 10 s).
QUIET = {
    "GetGatewayMappingOnline": 3600.0,
    "GetGatewayRoutingOnline": 3600.0,
    "GetGatewayMapping": 3600.0,
    "GetGatewayRouting": 3600.0,
    "GetFeeRateGroup": 3600.0,
    "GetSuite": 3600.0,
}


def all_online(state: InstanceState, count: int, rng: random.Random) -> list[str]:
    """Exactly `count` phones online (the simulator starts with 60 % of its numbers online)."""
    for e164 in list(state.online_phones())[count:]:
        state.set_phone_online(e164, False)
    serial = 0
    while len(state.online_phones()) < count:
        state.set_phone_online(f"8615{serial:09d}", True)
        serial += 1
    return state.online_phones()


def change(state: InstanceState, rng: random.Random, serial: list[int]) -> None:
    """1 % of the online phones drop, as many new numbers register."""
    online = state.online_phones()
    moved = max(1, int(len(online) * CHANGE) // 2)
    for e164 in rng.sample(online, moved):
        state.set_phone_online(e164, False)
    for _ in range(moved):
        serial[0] += 1
        state.set_phone_online(f"8617{serial[0]:09d}", True)


# -- VOS calls per cycle, through the real poller -------------------------------------------------


async def poller_cycles(
    settings: Settings, sim: SimCluster, cycles: int, rng: random.Random, serial: list[int]
) -> list[int]:
    """VOS calls (listing + detail batches) of each cycle after the first detail sweep."""
    vos = sim.instances[0]
    nc = await bus.connect(settings, "bench-phones")
    try:
        buckets = await bus.ensure_buckets(nc.jetstream(), settings)
        record_ = InstanceRecord(id=INSTANCE_ID, name="bench", base_url=sim.urls[0])
        await buckets[bus.INSTANCES_BUCKET].put(bus.instance_key(INSTANCE_ID), record_.to_kv())
    finally:
        await nc.close()
    # Every call the simulator answers, in order: a cycle is one listing and the detail calls after
    # it (the poller makes them before its next listing), so the count per cycle is exact.
    log: list[str] = []
    count_call = vos.count_call

    def logged(api: str) -> None:
        log.append(api)
        count_call(api)

    vos.count_call = logged  # type: ignore[method-assign]
    poller = PollerService(settings)
    await poller.start()

    def listings() -> int:
        return log.count("GetAllPhoneOnline")

    try:
        sweep = -(-len(vos.state.online_phones()) // settings.phone_detail_max_per_poll)
        for cycle in range(sweep + cycles + 1):
            seen = listings()
            await _until(lambda last=seen: listings() > last, 60)
            await asyncio.sleep(0.2)  # the listing just asked for is answered before VOS changes
            if cycle < sweep + cycles:
                change(vos.state, rng, serial)
    finally:
        await poller.stop()
        vos.count_call = count_call  # type: ignore[method-assign]
    per_cycle: list[int] = []
    for api in log:
        if api == "GetAllPhoneOnline":
            per_cycle.append(1)
        elif api == "GetPhoneOnline" and per_cycle:
            per_cycle[-1] += 1
    # The sweep is not the steady state; the last listing's details may be cut off by the stop.
    return per_cycle[sweep:-1]


async def _until(check: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the poller did not poll")
        await asyncio.sleep(0.01)


# -- writer cost per cycle -------------------------------------------------------------------------


def listing_result(numbers: list[str], at: datetime) -> FetchResult:
    path = API_PATH_PREFIX + "GetAllPhoneOnline"
    return FetchResult(
        instance_id=INSTANCE_ID,
        api_name="GetAllPhoneOnline",
        api_path=path,
        cache_key=cache_key(path, {}),
        ok=True,
        ret_code=0,
        response={"retCode": 0, "e164s": numbers},
        fetched_at=at,
    )


def detail_results(state: InstanceState, numbers: list[str], at: datetime, batch: int) -> list[FetchResult]:
    path = API_PATH_PREFIX + "GetPhoneOnline"
    results = []
    for i in range(0, len(numbers), batch):
        asked = numbers[i : i + batch]
        items = [entry for n in asked if (entry := state.phone_entry(n)) is not None]
        params = {"e164s": asked}
        results.append(
            FetchResult(
                instance_id=INSTANCE_ID,
                api_name="GetPhoneOnline",
                api_path=path,
                params=params,
                cache_key=cache_key(path, params),
                ok=True,
                ret_code=0,
                response={"retCode": 0, "infoPhoneOnlines": items},
                fetched_at=at + timedelta(milliseconds=1 + i // batch),
                reason=FetchReason.SCHEDULE,
            )
        )
    return results


LEGACY_SELECT = "SELECT id FROM phones WHERE vos_instance_id = $1 AND e164 = $2"
LEGACY_UPDATE = "UPDATE phones SET is_online = true, last_seen_at = $2, updated_at = now() WHERE id = $1"
LEGACY_INSERT = (
    "INSERT INTO phones (vos_instance_id, e164, is_online, last_seen_at) VALUES ($1, $2, true, $3)"
)


async def legacy_cycle(conn: asyncpg.Connection, numbers: list[str], at: datetime) -> float:
    started = time.perf_counter()
    async with conn.transaction():
        await conn.execute("UPDATE phones SET is_online = false WHERE vos_instance_id = $1", INSTANCE_ID)
        for e164 in numbers:
            found = await conn.fetchval(LEGACY_SELECT, INSTANCE_ID, e164)
            if found is None:
                await conn.execute(LEGACY_INSERT, INSTANCE_ID, e164, at)
            else:
                await conn.execute(LEGACY_UPDATE, found, at)
    return time.perf_counter() - started


async def writer_cycles(
    settings: Settings, state: InstanceState, cycles: int, rng: random.Random, serial: list[int]
) -> dict[str, float | int | str]:
    pool = await create_pool(settings)
    conn = await asyncpg.connect(plain_pg_url(settings.database_url or ""))
    try:
        await conn.execute(
            "INSERT INTO vos_instances (id, name, base_url) VALUES ($1, 'bench', 'http://127.0.0.1:9')"
            " ON CONFLICT DO NOTHING",
            INSTANCE_ID,
        )
        applier = BatchApplier(pool, settings.catalogue)
        limits = DetailLimits(
            settings.phone_detail_batch_size,
            settings.phone_detail_max_per_poll,
            settings.phone_detail_refresh_per_poll,
        )
        tracker = PhoneDetailTracker(limits)
        at = datetime(2026, 12, 1, tzinfo=UTC)
        # The table as a running system has it: every online phone with its details.
        numbers = state.online_phones()
        first = detail_results(state, numbers, at, settings.phone_detail_batch_size)
        with gc_paused():
            await applier.apply([listing_result(numbers, at), *first])
        tracker.answered(numbers)

        timings: dict[str, list[float]] = {"vosync": [], "full": [], "legacy": []}
        rewritten, events, batches = [], [], []
        for cycle in range(cycles):
            for kind in ("vosync", "full", "legacy") if cycle % 2 == 0 else ("legacy", "full", "vosync"):
                change(state, rng, serial)
                at += timedelta(seconds=120)
                numbers = state.online_phones()
                if kind == "legacy":
                    timings[kind].append(await legacy_cycle(conn, numbers, at))
                    continue
                if kind == "vosync":
                    plan = tracker.plan(numbers)
                    asked = [n for b in plan.batches for n in b]
                    for b in plan.batches:
                        tracker.answered(b)
                else:
                    asked = numbers
                details = detail_results(state, asked, at, settings.phone_detail_batch_size)
                results = [listing_result(numbers, at), *details]
                before = await conn.fetchval("SELECT max(updated_at) FROM phones")
                outbox = await conn.fetchval("SELECT count(*) FROM gateway_event_outbox")
                started = time.perf_counter()
                with gc_paused():
                    await applier.apply(results)
                timings[kind].append(time.perf_counter() - started)
                if kind == "vosync":
                    batches.append(len(details))
                    rewritten.append(
                        await conn.fetchval("SELECT count(*) FROM phones WHERE updated_at > $1", before)
                    )
                    events.append(await conn.fetchval("SELECT count(*) FROM gateway_event_outbox") - outbox)
                # The legacy baseline marks everything online without events: bring the flags back.
                await conn.execute(
                    "UPDATE phones SET is_online = (e164 = ANY($1::text[])) WHERE vos_instance_id = $2",
                    numbers,
                    INSTANCE_ID,
                )
        med = {k: statistics.median(v) for k, v in timings.items()}
        return {
            "phones_writer_cycle_s": round(med["vosync"], 4),
            "phones_writer_full_details_cycle_s": round(med["full"], 4),
            "phones_legacy_cycle_s": round(med["legacy"], 4),
            "phones_writer_full_details_vs_vosync_x": round(med["full"] / med["vosync"], 1),
            "phones_legacy_vs_vosync_x": round(med["legacy"] / med["vosync"], 1),
            "phones_writer_rows_rewritten_per_cycle": int(statistics.median(rewritten)),
            "phones_writer_events_per_cycle": int(statistics.median(events)),
            "phones_writer_detail_batches_per_cycle": int(statistics.median(batches)),
        }
    finally:
        await conn.close()
        await pool.close()


# -- main ------------------------------------------------------------------------------------------


async def run(phones: int, cycles: int) -> dict[str, float | int | str]:
    rng = random.Random(22)
    serial = [0]
    figures: dict[str, float | int | str] = {"phones_online": phones}
    with embedded_servers() as (nats_url, db_url):
        await upgrade(db_url)
        base: dict[str, Any] = {
            "nats_url": nats_url,
            "database_url": db_url,
            "log_level": "WARNING",
            "poll_intervals": {**QUIET, "GetAllPhoneOnline": POLL_S},
            "poll_jitter": 0.0,
            "vos_timeout_s": 30.0,
            "vos_max_reply_bytes": 30 * 1024 * 1024,
        }
        sim = SimCluster(instances=1, gateways=10, seed=22, change_interval_s=0.0, change_fraction=0.0)
        await sim.start()
        try:
            all_online(sim.instances[0].state, phones, rng)
            vosync_calls: list[int] = []
            full_calls: list[int] = []
            for attempt in range(2):  # A, B, A, B: each a fresh poller (it starts with no memory)
                for kind in ("vosync", "full") if attempt == 0 else ("full", "vosync"):
                    overrides: dict[str, Any] = (
                        {}
                        if kind == "vosync"
                        else {
                            "phone_detail_max_per_poll": phones,
                            "phone_detail_refresh_per_poll": phones,
                        }
                    )
                    settings = Settings(**base, **overrides)
                    calls = await poller_cycles(settings, sim, max(2, cycles // 2), rng, serial)
                    (vosync_calls if kind == "vosync" else full_calls).extend(calls)
            print(f"  VOS calls of each cycle: vosync {vosync_calls}, every detail every cycle {full_calls}")
            figures["phones_vos_calls_per_cycle"] = statistics.median(vosync_calls)
            figures["phones_vos_calls_per_cycle_max"] = max(vosync_calls)
            figures["phones_vos_calls_full_details_per_cycle"] = statistics.median(full_calls)
            figures["phones_vos_calls_full_vs_vosync_x"] = round(
                statistics.median(full_calls) / statistics.median(vosync_calls), 1
            )
            figures.update(await writer_cycles(Settings(**base), sim.instances[0].state, cycles, rng, serial))
        finally:
            await sim.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phones", type=int, default=10_000)
    parser.add_argument("--cycles", type=int, default=6)
    args = parser.parse_args()
    record(asyncio.run(run(args.phones, args.cycles)))


if __name__ == "__main__":
    main()
