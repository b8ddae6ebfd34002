"""Benchmark 3: 500 concurrent readers of one expired key through one api process.

The simulator answers GetGatewayMapping (1,000 gateways, the key of benchmark 1) after 200 ms. The
row is stored through the real path (sync → poller → writer) with a 5 s TTL and read once, so the
api's in-process cache holds it too; once both have expired, 500 readers on 500 already-open
connections ask for it at the same moment. Figures: VOS calls the simulator counted (goal 1), the
readers' latency percentiles, and the time to the first answer (the one fetch, without the transfer
of 500 × 2 MB that dominates the tail).
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
TTL_S = 5
API = "GetGatewayMapping"
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
            async with session.post(proxy_url, data=b"{}", headers={"Content-Type": "application/json"}) as r:
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


def main() -> None:
    ttls = json.dumps({API: TTL_S})
    with stack("stampede") as s:
        (sim_url,) = s.start_sim(instances=1, gateways=GATEWAYS)
        # Grace 0: this scenario measures readers that must wait for VOS (beyond the window).
        s.start_api(VOSYNC_CACHE_TTLS=ttls, VOSYNC_API_STALE_WHILE_REVALIDATE_S=json.dumps({API: 0}))
        s.start_writer(VOSYNC_CACHE_TTLS=ttls)
        s.start_poller(
            VOSYNC_CACHE_TTLS=ttls, VOSYNC_POLLER_INSTANCES=NO_INSTANCE
        )  # no scheduled run refreshes the key
        instance_id = s.add_instance("bench-1", sim_url)
        proxy_url = f"{s.api_url}/api/v1/vos-api/instances/{instance_id}/{API}"
        sync_now(s, instance_id, [API])

        stored: dict[str, str] = {}

        def fresh_from_database() -> bool:
            reply = http_json("POST", proxy_url, {})
            stored.update(expires_at=reply["expires_at"])
            return bool(reply["data_source"] == "database")

        wait_for(fresh_from_database, 30, "the stored row served from the database", 0.2)
        expires = datetime.fromisoformat(stored["expires_at"])
        time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.5)

        http_json("POST", f"{sim_url}/_sim/faults", {"api": API, "latency_ms": VOS_LATENCY_MS})
        http_json("POST", f"{sim_url}/_sim/stats/reset")
        latencies, sources, statuses = asyncio.run(_stampede(s.api_url, proxy_url))
        calls = http_json("GET", f"{sim_url}/_sim/stats")["calls"].get(API, 0)

        print(f"  data sources: {dict(Counter(sources))}", flush=True)
        bad = [st for st in statuses if st != 200]
        if bad:
            raise RuntimeError(f"{len(bad)} readers got a non-200 answer: {sorted(set(bad))}")
        if set(sources) != {"vos_api"}:
            raise RuntimeError(f"the key was not expired for every reader: {dict(Counter(sources))}")
        figures: dict[str, float | int | str] = {
            "stampede_readers": READERS,
            "stampede_vos_calls": int(calls),
            "stampede_first_reply_ms": round(min(latencies), 1),
            "stampede_p50_ms": round(percentile(latencies, 50), 1),
            "stampede_p99_ms": round(percentile(latencies, 99), 1),
            "stampede_from_vos_api": sum(1 for src in sources if src == "vos_api"),
        }
        figures |= s.rss_figures("stampede")
        record(figures)


if __name__ == "__main__":
    main()
