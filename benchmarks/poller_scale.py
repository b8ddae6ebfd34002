"""Benchmark 5: one poller process polling 500 simulated instances on schedules compressed 10×.

One `vos-sim` process serves 500 instances of 20 mapping and 20 routing gateways. The instances go
into the KV bucket `vosync_instances` (what the api would mirror there); one `vosync-poller` leases
all of them and runs every scheduled API at a tenth of its default interval (online lists every 3 s,
configs every 6 s, the rest every 12 s: about 625 VOS calls and results a second). After a warm-up
of one longest interval, a 60 s window measures:

- schedule lateness p99: from the poller's `vosync_poller_schedule_lateness_seconds` histogram
  (difference across the window, interpolated inside the bucket like histogram_quantile);
- CPU share of one core: the poller's user + system CPU time over the window / the window;
- RSS: the peak over the whole run (sampled every 50 ms) and at the end;
- results per second on VOS_RESULTS against the rate the schedules ask for.

No writer runs: the poller needs only the results stream, which it creates.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import nats

from benchmarks.common import record
from benchmarks.harness import Stack, scrape, stack
from vosync.shared import bus
from vosync.shared.catalogue import Catalogue
from vosync.shared.instances import InstanceRecord
from vosync.shared.settings import Settings

INSTANCES = 500
GATEWAYS = 20
COMPRESSION = 10
WINDOW_S = 60.0
START_BUDGET_S = 150.0  # to lease all 500 and open the ops port
LATENESS = "vosync_poller_schedule_lateness_seconds"


def compressed_intervals() -> dict[str, float]:
    return {
        spec.name: spec.poll_interval_s / COMPRESSION
        for spec in Catalogue().scheduled()
        if spec.poll_interval_s is not None
    }


async def register_instances(nats_url: str, urls: list[str]) -> None:
    settings = Settings(nats_url=nats_url)
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await bus.ensure_streams(js, settings)
        kv = (await bus.ensure_buckets(js, settings))[bus.INSTANCES_BUCKET]
        for index, url in enumerate(urls, start=1):
            record = InstanceRecord(id=index, name=f"sim-{index}", base_url=url)
            await kv.put(bus.instance_key(index), record.to_kv())
    finally:
        await nc.close()


async def results_on_stream(nats_url: str) -> int:
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().stream_info(bus.RESULTS_STREAM)
        return int(info.state.messages)
    finally:
        await nc.close()


def bucket_counts(samples: dict[str, float]) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) of the lateness histogram, in bound order."""
    prefix = f"{LATENESS}_bucket{{le="
    buckets = [
        (float(key[len(prefix) : -1]), value) for key, value in samples.items() if key.startswith(prefix)
    ]
    return sorted(buckets)


def histogram_quantile(q: float, before: dict[str, float], after: dict[str, float]) -> float:
    """The q-quantile of the observations between two scrapes (linear inside the bucket)."""
    start = dict(bucket_counts(before))
    buckets = [(le, count - start.get(le, 0.0)) for le, count in bucket_counts(after)]
    total = buckets[-1][1]
    if total <= 0:
        raise RuntimeError("no scheduled run was observed in the window")
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if le == float("inf"):
                return lower_bound  # beyond the largest finite bucket: report its bound
            return lower_bound + (le - lower_bound) * (rank - lower_count) / max(count - lower_count, 1e-9)
        lower_bound, lower_count = le, count
    return lower_bound


def owned(ops_url: str) -> int:
    try:
        return int(scrape(ops_url).get("vosync_poller_owned_instances{}", 0))
    except OSError:
        return 0  # the ops endpoint opens once start() has returned


def wait_owning_all(ops_url: str, instances: int) -> float | None:
    """Seconds until the poller answers on its ops port owning every instance, or None."""
    started = time.monotonic()
    while time.monotonic() - started < START_BUDGET_S:
        if owned(ops_url) >= instances:
            return time.monotonic() - started
        time.sleep(0.5)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(prog="poller_scale")
    parser.add_argument("--instances", type=int, default=INSTANCES, help="figures are recorded only for 500")
    instances = parser.parse_args().instances
    intervals = compressed_intervals()
    expected_per_s = instances * sum(1 / seconds for seconds in intervals.values())
    with stack("poller_scale") as s:
        urls = s.start_sim(instances=instances, gateways=GATEWAYS, timeout_s=240)
        asyncio.run(register_instances(s.nats_url, urls))
        ops = s.start_poller(wait=False, VOSYNC_POLL_INTERVALS=json.dumps(intervals))
        ready_s = wait_owning_all(ops, instances)
        if ready_s is not None:
            time.sleep(max(intervals.values()))  # every key has had its first run

        poller = s.children["poller"]
        before = scrape(ops, 15, 3) if ready_s is not None else {}  # a saturated poller answers late
        cpu_before = poller.cpu_seconds()
        messages_before, started = asyncio.run(results_on_stream(s.nats_url)), time.monotonic()
        time.sleep(WINDOW_S)
        after = scrape(ops, 15, 3) if ready_s is not None else {}
        cpu_after = poller.cpu_seconds()
        messages_after, elapsed = asyncio.run(results_on_stream(s.nats_url)), time.monotonic() - started

        figures: dict[str, float | int | str] = {
            "poller_scale_instances": instances,
            "poller_expected_runs_per_s": round(expected_per_s, 1),
            "poller_results_per_s": round((messages_after - messages_before) / elapsed, 1),
            "poller_cpu_share_of_core": round((cpu_after - cpu_before) / elapsed, 3),
            "poller_peak_rss_mb_500": s.peak_rss_mb("poller"),
            "poller_end_rss_mb_500": round(_rss_now(s) / 1024**2, 1),
        }
        if ready_s is None:
            # Saturated while leasing: /metrics never opened, so lateness cannot be read.
            figures["poller_ready_s"] = f"not within {START_BUDGET_S:.0f}"
            figures["poller_lateness_p99_s"] = "not measured (poller never ready)"
        else:
            runs = after.get(f"{LATENESS}_count{{}}", 0) - before.get(f"{LATENESS}_count{{}}", 0)
            figures |= {
                "poller_ready_s": round(ready_s, 1),
                "poller_lateness_p50_s": round(histogram_quantile(0.50, before, after), 4),
                "poller_lateness_p99_s": round(histogram_quantile(0.99, before, after), 4),
                "poller_scheduled_runs_per_s": round(runs / elapsed, 1),
                # A poller that falls behind runs less often rather than later: lateness alone hides it.
                "poller_runs_vs_asked_ratio": round(runs / elapsed / expected_per_s, 3),
                "poller_owned_at_end": owned(ops),
                "poller_cpu_ms_per_run": round(1000 * (cpu_after - cpu_before) / max(runs, 1), 3),
            }
        if instances == INSTANCES:
            record(figures)
        else:
            for name, value in figures.items():
                print(f"  {name:44} {value}")


def _rss_now(s: Stack) -> int:
    ps = s.children["poller"].ps
    assert ps is not None
    return int(ps.memory_info().rss)


if __name__ == "__main__":
    main()
