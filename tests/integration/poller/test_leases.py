"""Lease behaviour against a real KV bucket: renewals move the fencing token, a lease taken away
stops polling at once, a graceful stop hands over at once, and pinned pollers get their instances."""

from __future__ import annotations

import time

from nats.aio.client import Client as NatsClient
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from tests.fixtures.sim import MakeVosSim
from tests.integration.poller.conftest import (
    ResultTap,
    RunPoller,
    StartPoller,
    sim_records,
)
from tests.support.waiting import wait_until
from vosync.shared import bus
from vosync.shared.settings import Settings

SLOW = {"GetGatewayMappingOnline": 0.3}  # one fast API is enough to see who polls


async def _leases_kv(nc: NatsClient, settings: Settings) -> KeyValue:
    return (await bus.ensure_buckets(nc.jetstream(), settings))[bus.LEASES_BUCKET]


async def _absent(kv: KeyValue, key: str) -> bool:
    try:
        await kv.get(key)
    except KeyNotFoundError:  # also KeyDeletedError
        return True
    return False


async def test_renewals_advance_the_fencing_token(
    make_vos_sim: MakeVosSim, nc: NatsClient, tap: ResultTap, start_poller: StartPoller
) -> None:
    sim = await make_vos_sim(instances=1, gateways=5)
    settings, poller = await start_poller(sim_records(sim), poller_id="p", poll_intervals=SLOW)
    await wait_until(lambda: poller.leases.revision(1) is not None, 5, "the lease")
    first = poller.leases.revision(1)
    assert first is not None
    await wait_until(lambda: (poller.leases.revision(1) or 0) > first, settings.lease_ttl_s, "a renewal")
    kv = await _leases_kv(nc, settings)
    entry = await kv.get(bus.lease_key(1))
    assert entry.value == b"p" and entry.revision == poller.leases.revision(1)
    heartbeat = await kv.get(bus.heartbeat_key("p"))
    # With the poller's view of the instance it holds (vosync.shared.heartbeat): answering, no backoff.
    assert heartbeat.value == (
        b'{"poller_id": "p", "pinned": null, "vos": {"1": {"backing_off": false, "failing_since": null,'
        b' "transport_failures": 0}}}'
    )
    await wait_until(lambda: len({r.lease_revision for r in tap.results(1)}) >= 2, 5, "results with 2 tokens")


async def test_a_lease_taken_away_stops_polling_at_once(
    make_vos_sim: MakeVosSim, nc: NatsClient, tap: ResultTap, start_poller: StartPoller
) -> None:
    sim = await make_vos_sim(instances=1, gateways=5)
    settings, poller = await start_poller(
        sim_records(sim), poller_id="p", poll_intervals=SLOW, lease_ttl_s=6.0
    )
    await wait_until(lambda: poller.polling() == {1}, 5, "polling")
    kv = await _leases_kv(nc, settings)
    await kv.put(bus.lease_key(1), b"intruder")  # e.g. our lease expired during a long pause
    taken = time.monotonic()
    await wait_until(lambda: poller.polling() == set(), poller.leases.sweep_s + 1, "polling stopped")
    stopped_after = time.monotonic() - taken
    assert stopped_after <= poller.leases.sweep_s + 0.5
    assert (
        poller.metrics.registry.get_sample_value("vosync_poller_lease_changes_total", {"change": "lost"}) == 1
    )
    assert (await kv.get(bus.lease_key(1))).value == b"intruder"  # never overwritten by the loser
    count = len(tap.results(1))
    await wait_until(lambda: time.monotonic() - taken > 1.5, 3, "a while")
    assert len(tap.results(1)) <= count + 1  # at most a call that was already in flight


async def test_graceful_stop_hands_over_without_waiting_for_the_ttl(
    make_vos_sim: MakeVosSim, nc: NatsClient, tap: ResultTap, start_poller: StartPoller, run_poller: RunPoller
) -> None:
    sim = await make_vos_sim(instances=2, gateways=5)
    settings, first = await start_poller(
        sim_records(sim),
        poller_id="first",
        poll_intervals=SLOW,
        lease_ttl_s=30.0,  # expiry would take 30 s
    )
    await wait_until(lambda: first.leases.owned_ids() == {1, 2}, 5, "first owns both")
    second = await run_poller(settings.model_copy(update={"poller_id": "second"}))
    await wait_until(
        lambda: len(first.leases.owned_ids()) == 1 and len(second.leases.owned_ids()) == 1, 10, "one each"
    )
    stopping = time.monotonic()
    await first.stop()
    assert time.monotonic() - stopping < 5
    kv = await _leases_kv(nc, settings)
    assert await _absent(kv, bus.heartbeat_key("first"))
    took = await wait_until(lambda: second.leases.owned_ids() == {1, 2}, 5, "second takes over")
    assert took < 5  # far below the 30 s TTL
    handed = time.monotonic()
    await wait_until(
        lambda: {s.result.instance_id for s in tap.seen if s.received > handed} == {1, 2}, 5, "both polled"
    )


async def test_pinned_poller_gets_its_instances_and_balancers_split_the_rest(
    make_vos_sim: MakeVosSim, start_poller: StartPoller, run_poller: RunPoller
) -> None:
    sim = await make_vos_sim(instances=5, gateways=5)
    settings, balancer = await start_poller(sim_records(sim), poller_id="bal", poll_intervals=SLOW)
    await wait_until(lambda: balancer.leases.owned_ids() == {1, 2, 3, 4, 5}, 5, "balancer owns all")
    pinned = await run_poller(settings.model_copy(update={"poller_id": "pin", "poller_instances": [2, 5]}))
    await wait_until(lambda: pinned.leases.owned_ids() == {2, 5}, 10, "pinned poller owns exactly 2 and 5")
    assert balancer.leases.owned_ids() == {1, 3, 4}
    assert pinned.polling() == {2, 5} and balancer.polling() == {1, 3, 4}
