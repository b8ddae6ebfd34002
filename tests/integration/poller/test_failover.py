"""Scale-out by leases: 3 pollers split 9 instances; when one dies (no release), the others take its
instances within the lease TTL plus one interval, and no instance is polled by two pollers at once."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Awaitable, Callable

from nats.aio.client import Client as NatsClient

from tests.fixtures.sim import MakeVosSim
from tests.integration.poller.conftest import (
    FAST_INTERVALS,
    ResultTap,
    Seen,
    put_instances,
    sim_records,
)
from tests.support.waiting import wait_until
from vosync.poller.service import PollerService
from vosync.shared.settings import Settings

RunPoller = Callable[[Settings], Awaitable[PollerService]]
INTERVAL_S = 1.0
TTL_S = 3.0
INTERVALS = dict.fromkeys(FAST_INTERVALS, INTERVAL_S)


def _balanced(pollers: list[PollerService], instances: set[int]) -> bool:
    owned = [p.leases.owned_ids() for p in pollers]
    every = set().union(*owned)
    disjoint = sum(len(o) for o in owned) == len(every)
    per = len(instances) / len(pollers)
    return every == instances and disjoint and all(per - 1 <= len(o) <= per + 1 for o in owned)


def _segments(seen: list[Seen], gap_s: float) -> dict[tuple[int, str], list[tuple[float, float]]]:
    """Per (instance, poller): the time spans in which that poller kept polling that instance."""
    times: dict[tuple[int, str], list[float]] = defaultdict(list)
    for s in seen:
        times[(s.result.instance_id, s.result.poller_id)].append(s.received)
    spans: dict[tuple[int, str], list[tuple[float, float]]] = {}
    for key, ts in times.items():
        ts.sort()
        runs = [[ts[0], ts[0]]]
        for t in ts[1:]:
            if t - runs[-1][1] > gap_s:
                runs.append([t, t])
            else:
                runs[-1][1] = t
        spans[key] = [(a, b) for a, b in runs]
    return spans


def _longest_double_polling(seen: list[Seen], gap_s: float) -> float:
    spans = _segments(seen, gap_s)
    worst = 0.0
    for (inst_a, poller_a), runs_a in spans.items():
        for (inst_b, poller_b), runs_b in spans.items():
            if inst_a != inst_b or poller_a >= poller_b:
                continue
            for a0, a1 in runs_a:
                for b0, b1 in runs_b:
                    worst = max(worst, min(a1, b1) - max(a0, b0))
    return worst


async def test_three_pollers_nine_instances_and_a_kill(
    make_vos_sim: MakeVosSim,
    nc: NatsClient,
    tap: ResultTap,
    poller_settings: Callable[..., Settings],
    run_poller: RunPoller,
) -> None:
    sim = await make_vos_sim(instances=9, gateways=5)
    records = sim_records(sim)
    instances = {r.id for r in records}
    base = poller_settings(lease_ttl_s=TTL_S, poll_intervals=INTERVALS)
    await put_instances(nc, base, *records)
    pollers = [await run_poller(base.model_copy(update={"poller_id": f"p{i}"})) for i in range(3)]

    await wait_until(lambda: _balanced(pollers, instances), 15, "3 ± 1 instances per poller, all 9 owned")
    counts = sorted(len(p.leases.owned_ids()) for p in pollers)
    assert all(2 <= c <= 4 for c in counts) and sum(counts) == 9, counts
    # the schedules follow the leases
    await wait_until(
        lambda: all(p.polling() == p.leases.owned_ids() for p in pollers), 5, "schedules = leases"
    )

    victim, survivors = pollers[0], pollers[1:]
    orphans = victim.leases.owned_ids()
    assert orphans
    await wait_until(
        lambda: {s.result.instance_id for s in tap.seen} == instances, 10, "every instance polled"
    )
    killed_at = time.monotonic()
    await victim.kill()  # like SIGKILL: no lease released, the connection just drops

    def taken_over() -> bool:
        polled = {
            s.result.instance_id for s in tap.seen if s.received > killed_at and s.result.poller_id != "p0"
        }
        return orphans <= polled

    took = await wait_until(taken_over, TTL_S + INTERVAL_S + 3, "the orphans polled by a survivor")
    assert took <= TTL_S + INTERVAL_S, f"took {took:.2f} s"
    await wait_until(lambda: _balanced(survivors, instances), 10, "all 9 owned by the two survivors")
    await wait_until(
        lambda: (
            {s.result.instance_id for s in tap.seen if s.received > killed_at + took + INTERVAL_S * 1.3}
            == instances
        ),
        5,
        "all 9 polled after the takeover",
    )
    assert not [s for s in tap.seen if s.result.poller_id == "p0" and s.received > killed_at + 0.5]

    # no instance was polled by two pollers at once for longer than one interval
    overlap = _longest_double_polling(tap.seen, gap_s=1.5 * INTERVAL_S * 1.1)
    assert overlap <= INTERVAL_S, f"two pollers polled one instance together for {overlap:.2f} s"
    # results carry the owner's lease revision, and it only grows per instance (the fencing token)
    for instance_id in instances:
        runs = sorted(
            (s.result for s in tap.seen if s.result.instance_id == instance_id), key=lambda r: r.fetched_at
        )
        revisions = [r.lease_revision or 0 for r in runs]
        assert all(revisions) and revisions == sorted(revisions), (instance_id, revisions)
