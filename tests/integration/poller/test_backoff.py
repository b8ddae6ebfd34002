"""Flaky VOS: after repeated transport failures an instance is called at the backoff rate (one probe
at a time), failures are still published, and polling resumes when VOS answers; a retCode error is
not a transport failure."""

from __future__ import annotations

import asyncio
import time

from tests.integration.poller.conftest import (
    FAST_INTERVALS,
    ResultTap,
    StartPoller,
    set_fault,
    sim_calls,
    sim_records,
)
from tests.support.waiting import wait_until
from vosync.poller.service import PollerService
from vosync.shared.instances import InstanceRecord
from vosync.shared.messages import ErrorKind
from vosync.sim.cluster import SimCluster

INTERVAL_S = 0.2
INTERVALS = dict.fromkeys(FAST_INTERVALS, INTERVAL_S)  # 7 APIs: 35 calls/s when VOS is well
BACKOFF = {"backoff_after_failures": 3, "backoff_base_s": 0.5, "backoff_max_s": 2.0}
WINDOW_S = 6.0


def _gauge(poller: PollerService) -> float:
    return poller.metrics.registry.get_sample_value("vosync_poller_instances_backing_off") or 0.0


async def _total(url: str) -> int:
    return sum((await sim_calls(url)).values())


async def test_http_500_backs_off_then_resumes(
    sim1: SimCluster, tap: ResultTap, start_poller: StartPoller
) -> None:
    url = sim1.urls[0]
    _, poller = await start_poller(sim_records(sim1), poller_id="b", poll_intervals=INTERVALS, **BACKOFF)
    await wait_until(lambda: len(tap.results(1)) >= 20, 5, "normal polling")

    healthy_from, healthy_calls = time.monotonic(), await _total(url)
    await asyncio.sleep(2.0)  # measuring the healthy call rate over a fixed window
    healthy_rate = (await _total(url) - healthy_calls) / (time.monotonic() - healthy_from)

    await set_fault(url, "*", "http_500")
    await wait_until(lambda: _gauge(poller) == 1, 5, "backing off")
    down_from, down_calls = time.monotonic(), await _total(url)
    await asyncio.sleep(WINDOW_S)  # measuring the call rate while VOS is down
    down_rate = (await _total(url) - down_calls) / (time.monotonic() - down_from)
    # full jitter over caps 0.5, 1, 2, 2, … s: about one probe a second; never near the healthy rate
    assert down_rate <= 2.5, f"{down_rate:.2f} calls/s while down (healthy {healthy_rate:.1f}/s)"
    assert healthy_rate >= 20, healthy_rate
    failures = [r for r in tap.results(1) if not r.ok]
    assert failures and all(r.error_kind is ErrorKind.HTTP_STATUS and r.error == "HTTP 500" for r in failures)
    assert poller.metrics.registry.get_sample_value("vosync_poller_skipped_runs_total", {"api": "GetSuite"})

    await set_fault(url, "*", "none")
    recovered = await wait_until(lambda: _gauge(poller) == 0, 2.0 + 2, "backoff over")
    assert recovered <= BACKOFF["backoff_max_s"] + 1
    count = len(tap.results(1))
    await wait_until(
        lambda: len([r for r in tap.results(1)[count:] if r.ok]) >= 20, 3, "normal polling again"
    )


async def test_vos_down_connect_errors_fall_to_the_backoff_rate(
    tap: ResultTap, start_poller: StartPoller
) -> None:
    down = InstanceRecord(id=3, name="down", base_url="http://127.0.0.1:9")
    _, poller = await start_poller([down], poller_id="b", poll_intervals=INTERVALS, **BACKOFF)
    await wait_until(lambda: _gauge(poller) == 1, 5, "backing off")
    start, attempts = time.monotonic(), len(tap.results(3))
    await asyncio.sleep(WINDOW_S)  # counting the (published) attempts over a fixed window
    rate = (len(tap.results(3)) - attempts) / (time.monotonic() - start)
    assert rate <= 2.5, f"{rate:.2f} attempts/s against a VOS that is down"
    assert all(r.error_kind is ErrorKind.CONNECT for r in tap.results(3))


async def test_ret_code_errors_do_not_back_off(
    sim1: SimCluster, tap: ResultTap, start_poller: StartPoller
) -> None:
    url = sim1.urls[0]
    await set_fault(url, "*", "ret_code")
    _, poller = await start_poller(sim_records(sim1), poller_id="b", poll_intervals=INTERVALS, **BACKOFF)
    await wait_until(lambda: len(tap.results(1)) >= 60, 5, "60 results at the normal rate")
    assert all(r.error_kind is ErrorKind.RET_CODE and r.ret_code == -10007 for r in tap.results(1))
    assert _gauge(poller) == 0
