"""Reading phone, fee-rate-group and suite replies: the real VOS keys, leniently, problems counted."""

from __future__ import annotations

from datetime import UTC, datetime

from vosync.writer.phone_plan import PhonePlan, PhoneState
from vosync.writer.phone_rows import parse_details, parse_fee_rate_groups, parse_listing, parse_suites


def test_a_listing_is_its_numbers_once_each_and_bad_entries_are_counted() -> None:
    parsed = parse_listing({"retCode": 0, "e164s": ["861", "862", "861", 7, None, {"e164": "x"}, "8" * 65]})
    assert parsed.usable and parsed.rows == ["861", "862", "7"]
    assert parsed.problems == {"duplicate_e164": 1, "bad_value:e164": 3, "too_long:name": 1}


def test_a_reply_without_the_list_is_not_usable() -> None:
    replies: list[object] = [{"retCode": 0}, {"retCode": 0, "e164s": "861"}, [], None]
    for reply in replies:
        assert not parse_listing(reply).usable
        assert not parse_details(reply).usable
        assert not parse_suites(reply).usable
    assert parse_listing({"retCode": 0, "E164S": ["861"]}).rows == ["861"]  # keys in any case


def test_details_read_the_documented_fields() -> None:
    item = {
        "e164": "861",
        "currentCall": "2",
        "remoteIp": " 203.0.113.9 ",
        "localIp": "10.0.0.1",
        "registerTime": 1_772_366_400_000,
        "updateTime": 0,
        "protocol": 1,
        "cryptoType": 0,
        "productId": "GoIP-8",
    }
    parsed = parse_details({"retCode": 0, "infoPhoneOnlines": [item, {"currentCall": 1}, "x"]})
    (row,) = parsed.rows
    assert (row.current_call, row.remote_ip, row.protocol, row.product_id) == (2, "203.0.113.9", 1, "GoIP-8")
    assert row.register_time == datetime.fromtimestamp(1_772_366_400, UTC)
    assert row.update_time is None  # 0: never
    assert parsed.problems == {"item_without_e164": 1, "item_not_object": 1}


def test_bad_values_become_none_and_are_counted() -> None:
    parsed = parse_details({"infoPhoneOnlines": [{"e164": "861", "registerTime": -5, "protocol": "sip?"}]})
    (row,) = parsed.rows
    assert row.register_time is None and row.protocol is None
    assert parsed.problems == {"bad_value:registerTime": 1, "bad_value:protocol": 1}


def test_groups_and_suites() -> None:
    groups = parse_fee_rate_groups(
        {"infoFeeRateGroups": [{"name": "B", "memo": ""}, {"name": "A"}, {"memo": "x"}]}
    )
    assert [(g.name, g.memo) for g in groups.rows] == [("A", None), ("B", None)]
    assert groups.problems == {"item_without_name": 1}
    suites = parse_suites(
        {
            "infoSuites": [
                {"id": 2, "name": "月租", "rentType": 1, "rentFee": "99.5", "nonholonomicOrder": 1},
                {"id": "x"},
            ]
        }
    )
    (suite,) = suites.rows
    assert (suite.suite_id, suite.rent_type, suite.rent_fee, suite.nonholonomic_order) == (2, 1, 99.5, True)
    assert suites.problems == {"bad_value:id": 1, "item_without_id": 1}


def at(second: int) -> datetime:
    return datetime(2026, 1, 1, 0, 0, second, tzinfo=UTC)


def test_the_plan_makes_one_transition_per_change_and_writes_only_changed_rows() -> None:
    plan = PhonePlan.of(1, [PhoneState("861", True, True), PhoneState("862", False, True)])
    plan.apply_listing(["861", "862", "863"], at(2), at(1))
    plan.apply_listing(["862", "863"], at(3), at(2))
    assert [(t.e164, t.is_online, t.previous, t.changed_at) for t in plan.transitions] == [
        ("862", True, False, at(2)),
        ("863", True, None, at(2)),
        ("861", False, True, at(3)),
    ]
    written = {r.e164: (r.is_online, r.last_seen_at) for r in plan.written()}
    assert written == {"861": (False, at(2)), "862": (True, None), "863": (True, None)}


def test_an_unchanged_listing_writes_nothing() -> None:
    plan = PhonePlan.of(1, [PhoneState("861", True, True)])
    plan.apply_listing(["861"], at(2), at(1))
    assert plan.transitions == [] and plan.written() == []
