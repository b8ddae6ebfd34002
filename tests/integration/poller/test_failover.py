"""Scale-out by leases: 3 pollers split 9 instances; when one dies (no release), the others take its
instances within the lease TTL plus one interval, and no instance is polled by two pollers at once."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from nats.aio.client import Client as NatsClient
from nats.js.kv import KeyValue

from tests.fixtures.sim import MakeVosSim
from tests.integration.poller.conftest import (
    FAST_INTERVALS,
    ResultTap,
    RunPoller,
    Seen,
    put_instances,
    sim_records,
)
from tests.support.processes import ServiceProc
from tests.support.waiting import wait_until
from vosync.poller.service import PollerService
from vosync.shared import bus
from vosync.shared.kv import snapshot
from vosync.shared.settings import Settings

INTERVAL_S = 1.0
TTL_S = 3.0
INTERVALS = dict.fromkeys(FAST_INTERVALS, INTERVAL_S)


VICTIM = "p0"


def _victim_env(settings: Settings) -> dict[str, str]:
    """The VOSYNC_ environment of the victim: the in-process pollers' settings, as poller p0."""
    return {
        "VOSYNC_NATS_URL": settings.require_nats_url(),
        "VOSYNC_POLLER_ID": VICTIM,
        "VOSYNC_LEASE_TTL_S": str(settings.lease_ttl_s),
        "VOSYNC_POLL_INTERVALS": json.dumps(settings.poll_intervals),
        "VOSYNC_VOS_TIMEOUT_S": str(settings.vos_timeout_s),
    }


async def _leases_of(kv: KeyValue, poller_id: str) -> set[int]:
    """The instances whose lease in the bucket `poller_id` holds (read by the test's own client)."""
    prefix = bus.lease_key(0).removesuffix("0")
    return {
        int(key.removeprefix(prefix))
        for key, entry in (await snapshot(kv)).items()
        if key.startswith(prefix) and entry.value == poller_id.encode()
    }


def _polled_lately(seen: list[Seen], poller_id: str, window_s: float) -> set[int]:
    """The instances `poller_id` published results of in the last `window_s` seconds."""
    since = time.monotonic() - window_s
    return {s.result.instance_id for s in seen if s.result.poller_id == poller_id and s.received > since}


def _balanced_owned(owned: list[set[int]], instances: set[int]) -> bool:
    every = set().union(*owned)
    disjoint = sum(len(o) for o in owned) == len(every)
    per = len(instances) / len(owned)
    return every == instances and disjoint and all(per - 1 <= len(o) <= per + 1 for o in owned)


def _balanced(pollers: list[PollerService], instances: set[int]) -> bool:
    return _balanced_owned([p.leases.owned_ids() for p in pollers], instances)


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
    tmp_path: Path,
) -> None:
    sim = await make_vos_sim(instances=9, gateways=5)
    records = sim_records(sim)
    instances = {r.id for r in records}
    base = poller_settings(lease_ttl_s=TTL_S, poll_intervals=INTERVALS)
    await put_instances(nc, base, *records)
    leases = await nc.jetstream().key_value(bus.LEASES_BUCKET)
    # p0 is a real poller process: SIGKILL ends it with no lease released, the connection just drops
    victim = ServiceProc("poller-p0", "vosync-poller", _victim_env(base), tmp_path)
    victim.start()
    try:
        await victim.wait_ready()
        survivors = [await run_poller(base.model_copy(update={"poller_id": f"p{i}"})) for i in (1, 2)]

        async def owned() -> list[set[int]]:
            return [await _leases_of(leases, VICTIM), *(p.leases.owned_ids() for p in survivors)]

        async def balanced() -> bool:
            return _balanced_owned(await owned(), instances)

        await wait_until(balanced, 15, "3 ± 1 instances per poller, all 9 owned")
        counts = sorted(len(o) for o in await owned())
        assert all(2 <= c <= 4 for c in counts) and sum(counts) == 9, counts

        # the schedules follow the leases (the victim's schedules: what it polled in the last interval
        # and a half)
        async def schedules_follow_leases() -> bool:
            victim_polls = _polled_lately(tap.seen, VICTIM, 1.5 * INTERVAL_S)
            return victim_polls == await _leases_of(leases, VICTIM) and all(
                p.polling() == p.leases.owned_ids() for p in survivors
            )

        await wait_until(schedules_follow_leases, 5, "schedules = leases")

        orphans = await _leases_of(leases, VICTIM)
        assert orphans
        await wait_until(
            lambda: {s.result.instance_id for s in tap.seen} == instances, 10, "every instance polled"
        )
        killed_at = time.monotonic()
        victim.kill()  # SIGKILL: no lease released, the connection just drops
    finally:
        await victim.stop()

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
