"""Benchmark 4: from a gateway flipping in the simulator to its `gateway.online` event on NATS.

One instance with 1,000 mapping and 1,000 routing gateways; the online APIs are polled every 2 s
(the default is 30 s), the others on their defaults. The benchmark flips one gateway at a time
(mapping and routing in turn, on and off), and for each flip takes:

- flip → event: from the control call to the event arriving on `gateway.online.>` (includes the wait
  for the next poll, up to 2 s);
- event processing: from the completion of the poller's fetch that first saw the flip (its
  FetchResult's `fetched_at`, stamped when the VOS reply has been read) to the event arriving: publish
  to VOS_RESULTS, the writer's commit (cache, gateways, outbox), the relay's publish.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import urllib.parse
from dataclasses import dataclass

import asyncpg
import nats
from nats.aio.msg import Msg

from benchmarks.cached_reads import sync_now
from benchmarks.common import percentile, record
from benchmarks.harness import Stack, http_json, plain_pg_url, scrape, stack
from vosync.shared.catalogue import Catalogue
from vosync.shared.codec import decode
from vosync.shared.messages import FetchResult, GatewayOnlineEvent

GATEWAYS = 1000
FLIPS = 36
ONLINE_INTERVAL_S = 2.0
EVENT_TIMEOUT_S = 15.0
BATCH_COUNT = "vosync_writer_batch_seconds_count{}"
BATCH_SUM = "vosync_writer_batch_seconds_sum{}"
ONLINE_APIS = {"mapping": "GetGatewayMappingOnline", "routing": "GetGatewayRoutingOnline"}


@dataclass(frozen=True)
class SeenResult:
    received: float
    fetched_at: float  # when the poller had read VOS's reply (epoch seconds)
    online: frozenset[str]


class Watcher:
    """Every online FetchResult and gateway.online event of the instance, with its arrival time."""

    def __init__(self, instance_id: int) -> None:
        self.instance_id = instance_id
        self.results: dict[str, list[SeenResult]] = {api: [] for api in ONLINE_APIS.values()}
        self.events: list[tuple[float, GatewayOnlineEvent]] = []
        self.arrived = asyncio.Event()
        catalogue = Catalogue()
        self._list_keys = {api: catalogue.spec(api).list_key for api in ONLINE_APIS.values()}

    async def on_result(self, msg: Msg) -> None:
        received = time.time()
        result = decode(FetchResult, msg.data, msg.headers)
        if not result.ok or result.response is None:
            return
        items = result.response.get(self._list_keys[result.api_name] or "", [])
        online = frozenset(item["name"] for item in items)
        self.results[result.api_name].append(SeenResult(received, result.fetched_at.timestamp(), online))

    async def on_event(self, msg: Msg) -> None:
        self.events.append((time.time(), decode(GatewayOnlineEvent, msg.data, msg.headers)))
        self.arrived.set()

    async def event_for(self, kind: str, name: str, online: bool, after: float) -> float:
        """The arrival time of the event for this transition (waits for it)."""
        deadline = time.monotonic() + EVENT_TIMEOUT_S
        while True:
            for received, event in self.events:
                if (
                    received >= after
                    and event.gateway_type == kind
                    and event.gateway_name == name
                    and event.is_online == online
                ):
                    return received
            self.arrived.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no gateway.online event for {kind} {name!r} → {online}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), remaining)

    def fetch_that_saw(self, kind: str, name: str, online: bool, flipped_at: float) -> SeenResult:
        for seen in self.results[ONLINE_APIS[kind]]:
            if seen.fetched_at >= flipped_at and (name in seen.online) == online:
                return seen
        raise RuntimeError(f"no {ONLINE_APIS[kind]} result saw {name!r} → {online}")

    async def quiet(self, seconds: float, timeout_s: float = 60) -> None:
        """Until no event has arrived for `seconds` (the first snapshots' transitions are done)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            last = self.events[-1][0] if self.events else 0.0
            if time.time() - last >= seconds and all(len(r) >= 2 for r in self.results.values()):
                return
            await asyncio.sleep(0.2)
        raise TimeoutError("events did not settle after the first snapshots")


async def commit_ms(database_url: str, rounds: int = 50) -> float:
    """p50 of one-row INSERT transactions: the floor of any durable commit on this disk."""
    conn = await asyncpg.connect(plain_pg_url(database_url))
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS bench_commit (x int)")
        times = []
        for i in range(rounds):
            started = time.perf_counter()
            await conn.execute("INSERT INTO bench_commit VALUES ($1)", i)
            times.append((time.perf_counter() - started) * 1000)
        await conn.execute("DROP TABLE bench_commit")
        return percentile(times, 50)
    finally:
        await conn.close()


async def measure(s: Stack, sim_url: str, instance_id: int) -> dict[str, float | int | str]:
    watcher = Watcher(instance_id)
    nc = await nats.connect(s.nats_url)
    try:
        await nc.subscribe("gateway.online.>", cb=watcher.on_event, pending_msgs_limit=100_000)
        for api in ONLINE_APIS.values():
            await nc.subscribe(f"vos.result.{instance_id}.{api}", cb=watcher.on_result)
        await nc.flush()
        await asyncio.to_thread(sync_now, s, instance_id, ["GetGatewayMapping", "GetGatewayRouting"])
        await watcher.quiet(2 * ONLINE_INTERVAL_S + 1)

        truth = await asyncio.to_thread(http_json, "GET", f"{sim_url}/_sim/gateways")
        writer_before = await asyncio.to_thread(scrape, s.ops_urls["writer"])
        rng = random.Random(1)
        flip_to_event: list[float] = []
        processing: list[float] = []
        writer_part: list[float] = []
        for i in range(FLIPS):
            kind = "mapping" if i % 2 == 0 else "routing"
            gateway = rng.choice(truth[kind])
            name, online = gateway["name"], not gateway["online"]
            path = f"{sim_url}/_sim/gateways/{kind}/{urllib.parse.quote(name, safe='')}/online"
            flipped_at = time.time()
            answer = await asyncio.to_thread(http_json, "POST", path, {"online": online})
            gateway["online"] = answer["online"]
            received = await watcher.event_for(kind, name, online, flipped_at)
            seen = watcher.fetch_that_saw(kind, name, online, flipped_at)
            flip_to_event.append((received - flipped_at) * 1000)
            processing.append((received - seen.fetched_at) * 1000)
            writer_part.append((received - seen.received) * 1000)
            await asyncio.sleep(rng.uniform(0, ONLINE_INTERVAL_S))  # flip at any point of the poll cycle
        writer_after = await asyncio.to_thread(scrape, s.ops_urls["writer"])
    finally:
        await nc.close()
    batches = writer_after[BATCH_COUNT] - writer_before[BATCH_COUNT]
    batch_s = writer_after[BATCH_SUM] - writer_before[BATCH_SUM]
    return {
        "freshness_flips": FLIPS,
        "event_processing_ms_p50": round(percentile(processing, 50), 1),
        "event_processing_ms_p99": round(percentile(processing, 99), 1),
        # Where the time goes: result on the bus → event (consumer, transaction, outbox relay).
        "event_processing_writer_ms_p50": round(percentile(writer_part, 50), 1),
        "event_processing_writer_ms_p99": round(percentile(writer_part, 99), 1),
        "freshness_writer_batch_ms_mean": round(1000 * batch_s / max(batches, 1), 1),
        "freshness_pg_commit_ms_p50": round(await commit_ms(s.database_url), 2),
        "flip_to_event_ms_p50": round(percentile(flip_to_event, 50), 1),
        "flip_to_event_ms_p99": round(percentile(flip_to_event, 99), 1),
    }


def main() -> None:
    intervals = json.dumps({api: ONLINE_INTERVAL_S for api in ONLINE_APIS.values()})
    with stack("freshness") as s:
        sim_url, instance_id = s.start_with_one_instance(
            gateways=GATEWAYS, poller={"VOSYNC_POLL_INTERVALS": intervals}
        )
        figures = asyncio.run(measure(s, sim_url, instance_id))
        figures.update(s.rss_figures("freshness", ("poller", "writer")))
        record(figures)


if __name__ == "__main__":
    main()
