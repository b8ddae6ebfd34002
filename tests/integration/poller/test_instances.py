"""Instances come from the KV bucket `vosync_instances`, watched: adding, disabling, re-enabling,
changing and removing an instance takes effect within seconds, without a restart."""

from __future__ import annotations

import time
from collections.abc import Callable

from nats.aio.client import Client as NatsClient
from nats.js.errors import NoKeysError

from tests.fixtures.sim import MakeVosSim
from tests.integration.poller.conftest import (
    ResultTap,
    RunPoller,
    StartPoller,
    put_instances,
    sim_calls,
    sim_records,
)
from tests.support.waiting import wait_until
from vosync.shared import bus
from vosync.shared.settings import Settings

FAST = {"GetGatewayMappingOnline": 0.3, "GetGatewayRoutingOnline": 0.3}


async def _leases(nc: NatsClient, settings: Settings) -> dict[str, bytes]:
    kv = (await bus.ensure_buckets(nc.jetstream(), settings))[bus.LEASES_BUCKET]
    try:
        keys = await kv.keys()
    except NoKeysError:
        return {}
    return {k: (await kv.get(k)).value or b"" for k in keys if k.startswith("instance.")}


async def test_disable_enable_change_remove_add(
    make_vos_sim: MakeVosSim, nc: NatsClient, tap: ResultTap, start_poller: StartPoller
) -> None:
    sim = await make_vos_sim(instances=3, gateways=5)
    one, two, three = sim_records(sim)
    settings, poller = await start_poller([one, two], poller_id="solo", poll_intervals=FAST)
    await wait_until(lambda: poller.polling() == {1, 2}, 5, "both instances polled")
    await wait_until(lambda: {r.instance_id for r in tap.results()} == {1, 2}, 5, "results of both")

    # disable 1: it stops being polled (within 5 s; in fact at once) and its lease is released
    disabled_at = time.monotonic()
    await put_instances(nc, settings, one.model_copy(update={"enabled": False}))
    took = await wait_until(lambda: poller.polling() == {2}, 5, "instance 1 no longer scheduled")
    await wait_until(lambda: 1 not in poller.leases.owned_ids(), 5, "lease of 1 released")
    assert "instance.1" not in await _leases(nc, settings)
    calls_after = await sim_calls(one.base_url)
    last_1 = max(s.received for s in tap.seen if s.result.instance_id == 1)
    assert last_1 - disabled_at < 5, f"instance 1 polled {last_1 - disabled_at:.2f} s after it was disabled"
    count_2 = len(tap.results(2))
    await wait_until(lambda: len(tap.results(2)) >= count_2 + 6, 5, "instance 2 still polled")
    assert await sim_calls(one.base_url) == calls_after  # not one more call to instance 1
    assert took < 5

    # enable it again: polled again
    await put_instances(nc, settings, one)
    await wait_until(lambda: poller.polling() == {1, 2}, 5, "instance 1 scheduled again")
    count_1 = len(tap.results(1))
    await wait_until(lambda: len(tap.results(1)) > count_1, 5, "instance 1 polled again")

    # point instance 1 at another VOS: the calls go there
    before = sum((await sim_calls(three.base_url)).values())
    await put_instances(nc, settings, one.model_copy(update={"base_url": three.base_url}))

    async def calls_moved() -> bool:
        return sum((await sim_calls(three.base_url)).values()) > before

    await wait_until(calls_moved, 5, "calls for instance 1 reach the new base_url", step_s=0.2)

    # remove instance 2 from the bucket: stops at once
    kv = (await bus.ensure_buckets(nc.jetstream(), settings))[bus.INSTANCES_BUCKET]
    await kv.delete(bus.instance_key(2))
    await wait_until(lambda: poller.polling() == {1} and poller.leases.owned_ids() == {1}, 5, "2 dropped")
    assert poller.directory.get(2) is None

    # a new instance appears: leased and polled without a restart
    await put_instances(nc, settings, three.model_copy(update={"id": 9, "name": "new"}))
    await wait_until(lambda: poller.polling() == {1, 9}, 5, "instance 9 scheduled")
    await wait_until(lambda: len(tap.results(9)) > 0, 5, "instance 9 polled")


async def test_unreadable_instance_entry_is_ignored(
    make_vos_sim: MakeVosSim,
    nc: NatsClient,
    poller_settings: Callable[..., Settings],
    run_poller: RunPoller,
) -> None:
    sim = await make_vos_sim(instances=1, gateways=5)
    (good,) = sim_records(sim)
    settings = poller_settings(poller_id="solo", poll_intervals=FAST)
    await put_instances(nc, settings, good)
    kv = (await bus.ensure_buckets(nc.jetstream(), settings))[bus.INSTANCES_BUCKET]
    await kv.put("7", b"{not json")
    await kv.put("8", good.model_copy(update={"id": 5}).to_kv())  # id differs from its key
    await kv.put("x", good.to_kv())
    poller = await run_poller(settings)
    assert poller.directory.enabled_ids() == {1}
    await wait_until(lambda: poller.polling() == {1}, 5, "the good instance polled")
    # an instance whose entry turns unreadable is no longer polled
    await kv.put("1", b"[]")
    await wait_until(lambda: poller.polling() == set(), 5, "instance 1 dropped")
