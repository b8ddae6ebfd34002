"""phones, fee_rate_groups and suites from VOS-shaped replies (through the batch transaction)."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from vosync.shared.messages import FetchReason, FetchResult
from vosync.sim.replies import at, failed, ok
from vosync.writer.apply import BatchApplier

ALL_ON, DETAIL = "GetAllPhoneOnline", "GetPhoneOnline"
GROUPS, SUITES = "GetFeeRateGroup", "GetSuite"


def listing(numbers: list[str], seconds: float) -> FetchResult:
    return ok(ALL_ON, {"retCode": 0, "e164s": numbers}, fetched_at=seconds)


def detail_item(e164: str, **over: Any) -> dict[str, Any]:
    item = {
        "e164": e164,
        "currentCall": 1,
        "remoteIp": "203.0.113.7",
        "localIp": "10.0.0.10",
        "registerTime": 1_772_366_400_000,
        "updateTime": 1_772_366_460_000,
        "protocol": 1,
        "cryptoType": 0,
        "productId": "Yealink SIP-T46S",
    }
    item.update(over)
    return item


def details(items: list[dict[str, Any]], seconds: float) -> FetchResult:
    result = ok(
        DETAIL,
        {"retCode": 0, "infoPhoneOnlines": items},
        fetched_at=seconds,
        params={"e164s": [i["e164"] for i in items]},
    )
    return result.model_copy(update={"reason": FetchReason.SCHEDULE})


async def phones(conn: asyncpg.Connection) -> dict[str, dict[str, Any]]:
    rows = await conn.fetch("SELECT * FROM phones WHERE vos_instance_id = 1 ORDER BY e164")
    return {r["e164"]: dict(r) for r in rows}


async def phone_outbox(conn: asyncpg.Connection) -> list[tuple[str, bool, bool | None]]:
    rows = await conn.fetch(
        "SELECT gateway_name, is_online, previous FROM gateway_event_outbox"
        " WHERE entity = 'phone' ORDER BY id"
    )
    return [(r["gateway_name"], r["is_online"], r["previous"]) for r in rows]


async def test_listed_phones_are_online_and_dropped_ones_offline_with_last_seen(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    await applier.apply([listing(["861", "862", "863"], 1)])
    rows = await phones(pg_conn)
    assert {e: r["is_online"] for e, r in rows.items()} == {"861": True, "862": True, "863": True}
    await applier.apply([listing(["861", "863", "864"], 2)])
    rows = await phones(pg_conn)
    assert {e: r["is_online"] for e, r in rows.items()} == {
        "861": True,
        "862": False,
        "863": True,
        "864": True,
    }
    assert rows["862"]["last_seen_at"] == at(1)  # the last listing that had it
    assert rows["862"]["current_call"] == 0
    assert await phone_outbox(pg_conn) == [
        ("861", True, None),
        ("862", True, None),
        ("863", True, None),
        ("864", True, None),  # within one listing: the numbers that came, then those that went
        ("862", False, True),
    ]
    await applier.apply([listing(["861", "862", "863", "864"], 3)])
    assert (await phone_outbox(pg_conn))[-1] == ("862", True, False)


async def test_an_unchanged_listing_writes_no_phone_row_and_no_event(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    await applier.apply([listing(["861", "862"], 1)])
    before = {e: r["updated_at"] for e, r in (await phones(pg_conn)).items()}
    await applier.apply([listing(["862", "861"], 2)])  # another order: another reply, same phones
    await applier.apply([listing(["862", "861"], 3)])
    assert {e: r["updated_at"] for e, r in (await phones(pg_conn)).items()} == before
    assert len(await phone_outbox(pg_conn)) == 2


async def test_a_backlog_of_listings_in_one_batch_loses_no_transition(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    await applier.apply([listing(["861"], 1)])
    await applier.apply([listing(["861", "862"], 4), listing([], 2), listing(["861"], 3)])
    assert await phone_outbox(pg_conn) == [
        ("861", True, None),
        ("861", False, True),
        ("861", True, False),
        ("862", True, None),
    ]
    rows = await phones(pg_conn)
    assert rows["861"]["is_online"] and rows["862"]["is_online"]
    assert rows["861"]["last_seen_at"] == at(1)


async def test_a_failed_or_unreadable_listing_changes_nothing(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    await applier.apply([listing(["861", "862"], 1)])
    before = await phones(pg_conn)
    await applier.apply([failed(ALL_ON, fetched_at=2)])
    await applier.apply([ok(ALL_ON, {"retCode": 0, "infoPhoneOnlines": []}, fetched_at=3)])  # no e164s
    assert await phones(pg_conn) == before
    assert len(await phone_outbox(pg_conn)) == 2


async def test_details_fill_the_columns_from_the_real_fields(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    await applier.apply([listing(["861", "862"], 1)])
    await applier.apply([details([detail_item("861"), detail_item("862", protocol=0, currentCall=0)], 2)])
    rows = await phones(pg_conn)
    one = rows["861"]
    assert (one["remote_ip"], one["local_ip"], one["current_call"], one["protocol"]) == (
        "203.0.113.7",
        "10.0.0.10",
        1,
        1,
    )
    assert one["product_id"] == "Yealink SIP-T46S" and one["crypto_type"] == 0
    assert one["register_time"].timestamp() == 1_772_366_400
    assert one["update_time"].timestamp() == 1_772_366_460
    assert json.loads(one["detail_data"])["productId"] == "Yealink SIP-T46S"
    assert rows["862"]["protocol"] == 0
    # scheduled detail batches are projected, not cached (each batch is another set of numbers)
    assert await pg_conn.fetchval("SELECT count(*) FROM vos_data_cache WHERE api_name = $1", DETAIL) == 0
    # an older reply does not overwrite a newer one
    await applier.apply([details([detail_item("861", remoteIp="198.51.100.1")], 1.5)])
    assert (await phones(pg_conn))["861"]["remote_ip"] == "203.0.113.7"
    await applier.apply([details([detail_item("861", remoteIp="198.51.100.1")], 3)])
    assert (await phones(pg_conn))["861"]["remote_ip"] == "198.51.100.1"


async def test_details_before_the_listing_make_no_event_until_listed(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    await applier.apply([details([detail_item("869")], 1)])
    row = (await phones(pg_conn))["869"]
    assert not row["is_online"] and row["remote_ip"] == "203.0.113.7"
    assert await phone_outbox(pg_conn) == []
    await applier.apply([listing(["869"], 2)])
    assert await phone_outbox(pg_conn) == [("869", True, None)]
    assert (await phones(pg_conn))["869"]["remote_ip"] == "203.0.113.7"


async def test_a_failed_detail_batch_changes_nothing(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    await applier.apply([listing(["861"], 1), details([detail_item("861")], 1)])
    before = await phones(pg_conn)
    failure = failed(DETAIL, fetched_at=2, params={"e164s": ["861"]}).model_copy(
        update={"reason": FetchReason.SCHEDULE}
    )
    report = await applier.apply([failure])
    assert await phones(pg_conn) == before
    assert [outcome for _, outcome in report.outcomes] == ["failure_recorded"]


def groups_reply(items: list[dict[str, Any]], seconds: float) -> FetchResult:
    return ok(GROUPS, {"retCode": 0, "infoFeeRateGroups": items}, fetched_at=seconds)


def suites_reply(items: list[dict[str, Any]], seconds: float) -> FetchResult:
    return ok(SUITES, {"retCode": 0, "infoSuites": items}, fetched_at=seconds)


def suite(suite_id: int, **over: Any) -> dict[str, Any]:
    item = {
        "id": suite_id,
        "name": f"月租 {suite_id}",
        "rentPeriod": 1,
        "rentType": 1,
        "nonholonomicOrder": False,
        "rentFee": 99.0,
        "minConsumption": 50.0,
        "lowerConsumption": 0.0,
        "giftMoney": 10.0,
        "memo": "",
    }
    item.update(over)
    return item


async def test_fee_rate_groups_follow_vos_including_removals(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    query = "SELECT name, memo FROM fee_rate_groups WHERE vos_instance_id = 1 ORDER BY name"
    await applier.apply([groups_reply([{"name": "国内标准", "memo": "a"}, {"name": "VIP", "memo": ""}], 1)])
    assert [tuple(r) for r in await pg_conn.fetch(query)] == [("VIP", None), ("国内标准", "a")]
    await applier.apply([groups_reply([{"name": "国内标准", "memo": "b"}], 2)])
    assert [tuple(r) for r in await pg_conn.fetch(query)] == [("国内标准", "b")]
    await applier.apply([failed(GROUPS, fetched_at=3)])
    assert [tuple(r) for r in await pg_conn.fetch(query)] == [("国内标准", "b")]
    await applier.apply([groups_reply([], 4)])
    assert await pg_conn.fetch(query) == []


async def test_suites_follow_vos_including_removals(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    query = "SELECT suite_id, name, rent_type, rent_fee, gift_money FROM suites ORDER BY suite_id"
    await applier.apply([suites_reply([suite(1), suite(2, rentType=3, rentPeriod=604_800)], 1)])
    assert [tuple(r) for r in await pg_conn.fetch(query)] == [
        (1, "月租 1", 1, 99.0, 10.0),
        (2, "月租 2", 3, 99.0, 10.0),
    ]
    period = await pg_conn.fetchval("SELECT rent_period FROM suites WHERE suite_id = 2")
    assert period == 604_800
    await applier.apply([suites_reply([suite(2, rentType=3, rentPeriod=604_800, rentFee=199.0)], 2)])
    assert [tuple(r) for r in await pg_conn.fetch(query)] == [(2, "月租 2", 3, 199.0, 10.0)]
    await applier.apply([failed(SUITES, fetched_at=3), suites_reply([suite(9)], 0.5)])  # failed; stale
    assert [tuple(r) for r in await pg_conn.fetch(query)] == [(2, "月租 2", 3, 199.0, 10.0)]
