"""Benchmark 3: 500 concurrent readers of one key through one api process, three times.

The simulator answers GetGatewayMapping (1,000 gateways, the key of benchmark 1) after 200 ms. The
row is stored through the real path (sync → poller → writer) with a 6 s TTL and a 6 s
stale-while-revalidate window, and read once, so the api's in-process cache holds it too. 500
readers on 500 already-open connections ask for it at the same moment:

1. while it is fresh (`stampede_fresh_*`: the cached read, the yardstick of 2);
2. just after it expired, inside the grace window (`stampede_swr_*`): every reader gets the stored
   reply at once while one background fetch refreshes it;
3. after the refreshed row has expired beyond the window (`stampede_*`, the original figures):
   every reader waits for the one fetch.

Figures: VOS calls the simulator counted (goal 1 each time), the readers' latency percentiles, the
time to the first answer, and `stampede_p50_vs_cached_p50_ratio` (2 against 1, goal ≤ 3). Readers
ask for the plain reply (Accept-Encoding: identity), 2 MB each, as before compression existed.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from datetime import UTC, datetime

import aiohttp

from benchmarks.cached_reads import GATEWAYS, NO_INSTANCE, sync_now
from benchmarks.common import percentile, record
from benchmarks.harness import http_json, stack, wait_for

READERS = 500
VOS_LATENCY_MS = 200
TTL_S = 6
GRACE_S = 6
API = "GetGatewayMapping"
PLAIN = {"Content-Type": "application/json", "Accept-Encoding": "identity"}
SOURCE = re.compile(rb'"data_source":"(\w+)"')


async def _open_connections(session: aiohttp.ClientSession, api_url: str) -> None:
    """One request per reader at once, so the pool holds READERS open keep-alive connections."""

    async def ping() -> None:
        async with session.get(f"{api_url}/health/live") as resp:
            await resp.read()

    await asyncio.gather(*(ping() for _ in range(READERS)))


async def _stampede(api_url: str, proxy_url: str) -> tuple[list[float], list[str], list[int]]:
    connector = aiohttp.TCPConnector(limit=READERS, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await _open_connections(session, api_url)
        gate = asyncio.Event()
        started = 0.0

        async def read() -> tuple[float, str, int]:
            await gate.wait()
            async with session.post(proxy_url, data=b"{}", headers=PLAIN) as r:
                body = await r.read()
            elapsed_ms = (time.perf_counter() - started) * 1000
            # The reply's head carries data_source; parsing 2 MB here would delay the other readers.
            found = SOURCE.search(body[:512]) if r.status == 200 else None
            return elapsed_ms, found.group(1).decode() if found else "", r.status

        tasks = [asyncio.create_task(read()) for _ in range(READERS)]
        await asyncio.sleep(0.05)  # every task is parked on the gate
        started = time.perf_counter()
        gate.set()
        done = await asyncio.gather(*tasks)
    return [d[0] for d in done], [d[1] for d in done], [d[2] for d in done]


def _figures(prefix: str, latencies: list[float], calls: int) -> dict[str, float | int | str]:
    return {
        f"{prefix}_vos_calls": calls,
        f"{prefix}_first_reply_ms": round(min(latencies), 1),
        f"{prefix}_p50_ms": round(percentile(latencies, 50), 1),
        f"{prefix}_p99_ms": round(percentile(latencies, 99), 1),
    }


def _check(what: str, sources: list[str], statuses: list[int], allowed: set[str]) -> None:
    print(f"  {what}: data sources {dict(Counter(sources))}", flush=True)
    bad = [st for st in statuses if st != 200]
    if bad:
        raise RuntimeError(f"{what}: {len(bad)} readers got a non-200 answer: {sorted(set(bad))}")
    if not set(sources) <= allowed:
        raise RuntimeError(f"{what}: readers saw {dict(Counter(sources))}, expected only {allowed}")


def _sleep_past(expires_at: str, extra_s: float) -> None:
    expires = datetime.fromisoformat(expires_at)
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + extra_s)


def main() -> None:
    ttls = json.dumps({API: TTL_S})
    with stack("stampede") as s:
        sim_url, instance_id = s.start_with_one_instance(
            gateways=GATEWAYS,
            api={
                "VOSYNC_CACHE_TTLS": ttls,
                "VOSYNC_API_STALE_WHILE_REVALIDATE_S": json.dumps({API: GRACE_S}),
            },
            writer={"VOSYNC_CACHE_TTLS": ttls},
            # no scheduled run refreshes the key
            poller={"VOSYNC_CACHE_TTLS": ttls, "VOSYNC_POLLER_INSTANCES": NO_INSTANCE},
        )
        proxy_url = f"{s.api_url}/api/v1/vos-api/instances/{instance_id}/{API}"
        stats_url = f"{sim_url}/_sim/stats"

        def vos_calls() -> int:
            return int(http_json("GET", stats_url)["calls"].get(API, 0))

        stored: list[str] = []  # expires_at of the fresh row, each time one was seen

        def fresh_from_database() -> bool:
            reply = http_json("POST", proxy_url, {})
            stored.append(str(reply["expires_at"]))
            return bool(reply["data_source"] == "database")

        sync_now(s, instance_id, [API])
        wait_for(fresh_from_database, 30, "the stored row served from the database", 0.2)
        http_json("POST", f"{sim_url}/_sim/faults", {"api": API, "latency_ms": VOS_LATENCY_MS})
        figures: dict[str, float | int | str] = {"stampede_readers": READERS}

        # 1. Fresh: the cached read.
        http_json("POST", f"{stats_url}/reset")
        latencies, sources, statuses = asyncio.run(_stampede(s.api_url, proxy_url))
        _check("fresh", sources, statuses, {"database"})
        figures |= _figures("stampede_fresh", latencies, vos_calls())

        # 2. Expired by half a second: inside the grace window.
        _sleep_past(stored[-1], 0.5)
        http_json("POST", f"{stats_url}/reset")
        latencies, sources, statuses = asyncio.run(_stampede(s.api_url, proxy_url))
        _check("inside the grace window", sources, statuses, {"stale", "database"})
        time.sleep(1.0)  # the background fetch (200 ms at VOS) has surely finished
        figures |= _figures("stampede_swr", latencies, vos_calls())
        figures["stampede_swr_stored_replies"] = sum(1 for src in sources if src == "database")

        # 3. The refreshed row, expired beyond the window: every reader waits for the one fetch.
        wait_for(fresh_from_database, 30, "the refreshed row served from the database", 0.2)
        _sleep_past(stored[-1], GRACE_S + 0.5)
        http_json("POST", f"{stats_url}/reset")
        latencies, sources, statuses = asyncio.run(_stampede(s.api_url, proxy_url))
        _check("beyond the grace window", sources, statuses, {"vos_api"})
        figures |= _figures("stampede", latencies, vos_calls())
        figures["stampede_from_vos_api"] = sum(1 for src in sources if src == "vos_api")

        figures["stampede_p50_vs_cached_p50_ratio"] = round(
            float(figures["stampede_swr_p50_ms"]) / float(figures["stampede_fresh_p50_ms"]), 3
        )
        figures |= s.rss_figures("stampede")
        record(figures)


if __name__ == "__main__":
    main()
