"""Phones, fee rate groups and suites through the real poller and writer: VOS simulator → poller →
NATS → writer → PostgreSQL, and the phone.online events from the outbox."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from tests.fixtures.sim import MakeVosSim
from tests.integration.poller.conftest import FAST_INTERVALS, put_instances, sim_records
from tests.integration.writer.helpers import add_instance, stream_messages
from tests.support.waiting import wait_until
from vosync.poller.service import PollerService
from vosync.shared import bus
from vosync.shared.channels import PHONE_ONLINE
from vosync.shared.messages import PhoneOnlineEvent
from vosync.shared.settings import Settings
from vosync.sim.instance import SimInstance

INTERVALS = {**FAST_INTERVALS, "GetAllPhoneOnline": 0.5, "GetFeeRateGroup": 0.5, "GetSuite": 0.5}


@dataclass
class Pipeline:
    vos: SimInstance
    pg: asyncpg.Connection
    js: JetStreamContext
    poller: PollerService

    async def phones(self) -> dict[str, dict[str, Any]]:
        rows = await self.pg.fetch("SELECT * FROM phones WHERE vos_instance_id = 1")
        return {r["e164"]: dict(r) for r in rows}

    async def online(self) -> set[str]:
        return {e for e, r in (await self.phones()).items() if r["is_online"]}

    async def events(self) -> list[PhoneOnlineEvent]:
        found = []
        for msg in await stream_messages(self.js, bus.EVENTS_STREAM):
            if msg.subject.startswith("phone.online."):
                assert msg.subject == PHONE_ONLINE.subject(instance_id=1)
                found.append(PHONE_ONLINE.decode(msg.data, msg.headers))
        return found


@pytest.fixture
async def pipeline(
    make_settings: Callable[..., Settings],
    make_vos_sim: MakeVosSim,
    run_poller: Callable[[Settings], Awaitable[PollerService]],
    run_writer: Callable[..., contextlib.AbstractAsyncContextManager[Any]],
    pg_conn: asyncpg.Connection,
    nats_url: str,
) -> AsyncIterator[Pipeline]:
    settings = make_settings(
        poll_intervals=INTERVALS,
        vos_timeout_s=2.0,
        lease_ttl_s=3.0,
        phone_detail_batch_size=4,
        phone_detail_max_per_poll=40,
        phone_detail_refresh_per_poll=4,
    )
    sim = await make_vos_sim(instances=1, gateways=20)
    await add_instance(pg_conn, 1)
    nc: NatsClient = await bus.connect(settings, "phones-test")
    try:
        await put_instances(nc, settings, *sim_records(sim))
        async with run_writer():
            poller = await run_poller(settings)
            yield Pipeline(sim.instances[0], pg_conn, nc.jetstream(), poller)
    finally:
        await nc.close()


async def test_phones_appear_with_details_and_go_offline_with_one_event_per_transition(
    pipeline: Pipeline,
) -> None:
    vos = pipeline.vos
    listed = set(vos.state.online_phones())
    assert len(listed) > 5

    async def all_detailed() -> bool:
        rows = await pipeline.phones()
        return {e for e, r in rows.items() if r["is_online"] and r["product_id"]} == listed

    await wait_until(all_detailed, 20, "every online phone with its details")
    some = sorted(listed)[0]
    row = (await pipeline.phones())[some]
    item = vos.state.phone_entry(some)
    assert item is not None
    assert (row["remote_ip"], row["local_ip"], row["product_id"], row["protocol"]) == (
        item["remoteIp"],
        item["localIp"],
        item["productId"],
        item["protocol"],
    )
    assert row["register_time"].timestamp() * 1000 == pytest.approx(item["registerTime"], abs=1)

    dropped = sorted(listed)[1]
    vos.state.set_phone_online(dropped, False)
    vos.state.set_phone_online("8613900000001", True)

    async def changed() -> bool:
        rows = await pipeline.phones()
        new = rows.get("8613900000001")
        return (
            not rows[dropped]["is_online"]
            and new is not None
            and bool(new["is_online"] and new["product_id"])
        )

    await wait_until(changed, 20, "the dropped phone offline and the new one online with details")
    gone = (await pipeline.phones())[dropped]
    assert gone["last_seen_at"] is not None and gone["last_seen_at"] <= gone["online_changed_at"]

    async def all_events() -> bool:
        return len(await pipeline.events()) == len(listed) + 2

    await wait_until(all_events, 10, "one event per transition")
    events = await pipeline.events()
    firsts = [e for e in events if e.previous is None]
    assert {e.e164 for e in firsts} == listed | {"8613900000001"} and all(e.is_online for e in firsts)
    assert [(e.e164, e.is_online, e.previous) for e in events if e.previous is not None] == [
        (dropped, False, True)
    ]
    assert len({e.event_id for e in events}) == len(events)
    # more polls of an unchanged VOS: no more events
    polls = vos.calls["GetAllPhoneOnline"]
    await wait_until(lambda: vos.calls["GetAllPhoneOnline"] >= polls + 3, 10, "three more polls")
    assert len(await pipeline.events()) == len(listed) + 2


async def test_a_failed_reply_changes_nothing(pipeline: Pipeline) -> None:
    vos = pipeline.vos
    listed = set(vos.state.online_phones())

    async def all_detailed() -> bool:
        rows = await pipeline.phones()
        return {e for e, r in rows.items() if r["is_online"] and r["product_id"]} == listed

    await wait_until(all_detailed, 20, "every online phone with its details")
    before = await pipeline.phones()
    # Details fail: the phone VOS now reports from another address keeps its stored details.
    vos.faults.set({"api": "GetPhoneOnline", "mode": "ret_code"})
    moved = sorted(listed)[0]
    item = vos.state.phone_entry(moved)
    assert item is not None
    item["remoteIp"] = "192.0.2.99"
    polls = vos.calls["GetPhoneOnline"]
    await wait_until(lambda: vos.calls["GetPhoneOnline"] >= polls + 8, 15, "failed detail calls")
    assert await pipeline.phones() == before
    # The listing fails: the phone VOS no longer lists stays online, no event.
    vos.faults.set({"api": "GetAllPhoneOnline", "mode": "ret_code"})
    vos.state.set_phone_online(sorted(listed)[1], False)
    events = len(await pipeline.events())
    polls = vos.calls["GetAllPhoneOnline"]
    await wait_until(lambda: vos.calls["GetAllPhoneOnline"] >= polls + 3, 10, "three failed polls")
    await wait_until(lambda: _has_failure(pipeline.pg), 10, "the writer to record the failure")
    assert await pipeline.phones() == before
    assert len(await pipeline.events()) == events
    # VOS answers again: the details and the drop come through.
    vos.faults.clear()

    async def recovered() -> bool:
        rows = await pipeline.phones()
        return rows[moved]["remote_ip"] == "192.0.2.99" and not rows[sorted(listed)[1]]["is_online"]

    await wait_until(recovered, 20, "the refreshed details and the drop")


async def test_fee_rate_groups_and_suites_follow_vos_including_removals(pipeline: Pipeline) -> None:
    vos = pipeline.vos
    groups = vos.state.fee_rate_groups()
    suites = vos.state.suites()

    async def tables() -> tuple[list[tuple[str, str | None]], list[tuple[int, str | None, float | None]]]:
        g = await pipeline.pg.fetch("SELECT name, memo FROM fee_rate_groups ORDER BY name")
        s = await pipeline.pg.fetch("SELECT suite_id, name, rent_fee FROM suites ORDER BY suite_id")
        return [(r["name"], r["memo"]) for r in g], [(r["suite_id"], r["name"], r["rent_fee"]) for r in s]

    def expected() -> tuple[list[tuple[str, str | None]], list[tuple[int, str | None, float | None]]]:
        g = sorted((x["name"], x["memo"] or None) for x in vos.state.fee_rate_groups())
        s = sorted((x["id"], x["name"], x["rentFee"]) for x in vos.state.suites())
        return g, s

    await wait_until(lambda: _equal(tables(), expected()), 20, "groups and suites as VOS has them")
    vos.state.set_fee_rate_groups([*groups[1:], {"name": "新增组", "memo": "added"}])
    vos.state.set_suites([{**suites[0], "rentFee": 1.5}])
    await wait_until(lambda: _equal(tables(), expected()), 20, "the removals and changes")
    names = [g for g, _ in (await tables())[0]]
    assert groups[0]["name"] not in names and "新增组" in names
    assert [s[0] for s in (await tables())[1]] == [suites[0]["id"]]


async def _equal(value: Awaitable[Any], expected: Any) -> bool:
    return bool(await value == expected)


async def _has_failure(pg: asyncpg.Connection) -> bool:
    row = await pg.fetchrow(
        "SELECT 1 FROM vos_data_cache WHERE api_name = 'GetAllPhoneOnline' AND error_kind IS NOT NULL"
    )
    return row is not None
