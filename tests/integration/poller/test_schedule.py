"""Each scheduled API of an owned instance is fetched at its interval (±20 %), and every outcome is
published to VOS_RESULTS with a Nats-Msg-Id."""

from __future__ import annotations

import asyncio
import itertools
import statistics

from nats.aio.client import Client as NatsClient

from tests.integration.poller.conftest import (
    FAST_INTERVALS,
    ResultTap,
    StartPoller,
    set_fault,
    sim_calls,
    sim_records,
)
from tests.support.waiting import wait_until
from vosync.shared import bus
from vosync.shared.codec import decode
from vosync.shared.messages import FetchReason, FetchRequest, FetchResult
from vosync.sim.cluster import SimCluster

RUNS = 8  # intervals observed per API (at least)


async def test_each_api_at_its_interval(
    sim1: SimCluster, nc: NatsClient, tap: ResultTap, start_poller: StartPoller
) -> None:
    # Only the scheduled APIs themselves: the GetPhoneOnline calls that follow each GetAllPhoneOnline
    # have their own test (test_phone_details.py).
    (record,) = sim_records(sim1)
    settings, poller = await start_poller([record], poller_id="p1", phone_detail_max_per_poll=0)

    def enough() -> bool:
        return all(len(tap.results(api=api)) > RUNS for api in FAST_INTERVALS)

    await wait_until(enough, 1.5 * RUNS * max(FAST_INTERVALS.values()) + 5, f"{RUNS} runs of every API")
    await poller.stop()
    calls = await sim_calls(record.base_url)

    for api, interval in FAST_INTERVALS.items():
        runs = sorted(tap.results(api=api), key=lambda r: r.fetched_at)
        ends = [r.fetched_at.timestamp() for r in runs]
        starts = [r.fetched_at.timestamp() - r.duration_ms / 1000 for r in runs]
        # The pause the scheduler makes, from the end of a run to the start of the next: never early;
        # late only by what the OS adds on a loaded machine (other test runs share 2 cores), so
        # most within ±20 % and the run-to-run mean within ±20 % over the whole test.
        pauses = [b - a for a, b in zip(ends, starts[1:], strict=False)]
        assert min(pauses) >= 0.8 * interval, (api, interval, pauses)
        within = [p for p in pauses if p <= 1.2 * interval]
        assert len(within) >= 0.8 * len(pauses), (api, interval, [round(p, 3) for p in pauses])
        gaps = [b - a for a, b in itertools.pairwise(ends)]
        assert 0.8 * interval <= statistics.mean(gaps) <= 1.2 * interval, (api, interval, gaps)

    results = tap.results()
    assert all(r.ok and r.reason is FetchReason.SCHEDULE and r.poller_id == "p1" for r in results)
    assert all(r.instance_id == 1 and r.lease_revision is not None for r in results)
    # one VOS call per published result (a call cut off by the stop may not have been published)
    assert set(calls) == set(FAST_INTERVALS)
    assert 0 <= sum(calls.values()) - len(results) <= settings.vos_max_concurrency

    # the stream holds every result exactly once, with its message id
    js = nc.jetstream()
    assert (await js.stream_info(bus.RESULTS_STREAM)).state.messages == len(results)
    sub = await js.pull_subscribe(bus.RESULT_SUBJECTS, stream=bus.RESULTS_STREAM)
    msgs = await sub.fetch(len(results), timeout=5)
    stored = [decode(FetchResult, m.data, m.headers) for m in msgs]
    assert {r.msg_id for r in stored} == {r.msg_id for r in results}
    assert all(m.headers and m.headers["Nats-Msg-Id"] == r.msg_id for m, r in zip(msgs, stored, strict=True))


async def test_at_most_max_concurrency_calls_per_instance(
    sim1: SimCluster, nc: NatsClient, tap: ResultTap, start_poller: StartPoller
) -> None:
    """A slow VOS: 7 scheduled APIs and 10 on-demand requests for distinct keys all want it at once."""
    await set_fault(sim1.urls[0], "*", latency_ms=150)
    settings, _ = await start_poller(
        sim_records(sim1), poller_id="p1", poll_intervals=dict.fromkeys(FAST_INTERVALS, 0.2)
    )
    asks = [
        FetchRequest(instance_id=1, api_name="GetGatewayMappingOnline", params={"names": [f"gw{i}"]})
        for i in range(10)
    ]
    replies = await asyncio.gather(
        *(nc.request(bus.fetch_subject(1), a.model_dump_json().encode(), timeout=10) for a in asks)
    )
    assert all(decode(FetchResult, r.data, r.headers).ok for r in replies)
    await wait_until(lambda: len(tap.results()) >= 40, 10, "40 slow calls")
    spans = [
        (r.fetched_at.timestamp() - r.duration_ms / 1000, r.fetched_at.timestamp()) for r in tap.results()
    ]
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    assert most == settings.vos_max_concurrency == 2
