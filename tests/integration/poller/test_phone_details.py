"""After each scheduled GetAllPhoneOnline the poller asks GetPhoneOnline for the details of new
numbers and a bounded round-robin of known ones, in batches, and publishes every batch's result."""

from __future__ import annotations

import itertools

from tests.integration.poller.conftest import ResultTap, StartPoller, set_fault, sim_records
from tests.support.waiting import wait_until
from vosync.shared.instances import InstanceRecord
from vosync.shared.messages import FetchReason
from vosync.sim.cluster import SimCluster


async def _start_lister(
    start_poller: StartPoller, records: list[InstanceRecord], *, batch: int, most: int, refresh: int
) -> None:
    """A poller listing the phones every 0.4 s, then asking details in batches of `batch`: at most
    `most` numbers a poll, `refresh` of them ones it already has details of."""
    await start_poller(
        records,
        poller_id="p1",
        poll_intervals={"GetAllPhoneOnline": 0.4},
        phone_detail_batch_size=batch,
        phone_detail_max_per_poll=most,
        phone_detail_refresh_per_poll=refresh,
    )


async def test_new_numbers_in_bounded_batches_then_the_round_robin(
    sim1: SimCluster, tap: ResultTap, start_poller: StartPoller
) -> None:
    online = sim1.instances[0].state.online_phones()
    assert len(online) > 12
    await _start_lister(start_poller, sim_records(sim1), batch=5, most=12, refresh=3)
    await wait_until(lambda: len(tap.results(api="GetAllPhoneOnline")) >= 5, 15, "five listings")

    listings = sorted(tap.results(api="GetAllPhoneOnline"), key=lambda r: r.fetched_at)
    details = sorted(tap.results(api="GetPhoneOnline"), key=lambda r: r.fetched_at)
    assert all(r.ok and r.reason is FetchReason.SCHEDULE for r in details)
    # Each batch's numbers are the ones asked for, at most 5; the reply has their details.
    for result in details:
        asked = result.params["e164s"]
        assert 1 <= len(asked) <= 5
        assert result.response is not None
        assert [p["e164"] for p in result.response["infoPhoneOnlines"]] == asked
    per_poll = [
        [n for r in details if a.fetched_at < r.fetched_at < b.fetched_at for n in r.params["e164s"]]
        for a, b in itertools.pairwise(listings)
    ]
    # Poll 1: 12 new numbers (the bound); poll 2: the rest of them, then up to 3 refreshed; after
    # that only the round-robin, 3 per poll, of numbers already detailed.
    assert per_poll[0] == online[:12]
    assert per_poll[1][: len(online) - 12] == online[12:]
    assert len(per_poll[1]) == min(12, len(online) - 12 + 3)
    for numbers in per_poll[2:4]:
        assert len(numbers) == 3 and set(numbers) <= set(online)
    assert per_poll[2] != per_poll[3]  # the round-robin moves on


async def test_a_failed_detail_batch_is_asked_again(
    sim1: SimCluster, tap: ResultTap, start_poller: StartPoller
) -> None:
    online = sim1.instances[0].state.online_phones()
    (record,) = sim_records(sim1)
    await set_fault(record.base_url, "GetPhoneOnline", "ret_code")
    await _start_lister(start_poller, [record], batch=100, most=100, refresh=0)
    await wait_until(lambda: len(tap.results(api="GetPhoneOnline")) >= 2, 15, "two failed detail calls")
    assert all(not r.ok and r.params["e164s"] == online for r in tap.results(api="GetPhoneOnline"))
    await set_fault(record.base_url, "GetPhoneOnline", "none")
    await wait_until(
        lambda: any(r.ok for r in tap.results(api="GetPhoneOnline")), 15, "the details after the fault"
    )
    first_ok = next(r for r in tap.results(api="GetPhoneOnline") if r.ok)
    assert first_ok.params["e164s"] == online
    polls = len(tap.results(api="GetAllPhoneOnline"))
    await wait_until(lambda: len(tap.results(api="GetAllPhoneOnline")) >= polls + 2, 10, "two more listings")
    assert len([r for r in tap.results(api="GetPhoneOnline") if r.ok]) == 1  # answered: not asked again
