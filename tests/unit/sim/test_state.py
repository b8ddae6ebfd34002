"""Changing a simulated instance: drift, control actions, and the cached replies that follow them."""

from __future__ import annotations

import json

import pytest

from vosync.sim.datagen import MAPPING, ROUTING
from vosync.sim.state import DuplicateGatewayError, InstanceState, StateError, UnknownGatewayError


def online_names(state: InstanceState, kind: str) -> set[str]:
    key = "infoGatewayMappingOnlines" if kind == MAPPING else "infoGatewayRoutingOnlines"
    return {item["name"] for item in json.loads(state.table(kind).online_reply(None))[key]}


def figures(state: InstanceState, kind: str) -> dict[str, tuple[int, float, int]]:
    return {
        gw.name: (gw.online.current_call, gw.online.asr, gw.online.acd)
        for gw in state.table(kind)
        if gw.online is not None
    }


@pytest.fixture
def state() -> InstanceState:
    return InstanceState(0, 500, seed=4)


def test_drift_flips_about_the_fraction_and_moves_figures(state: InstanceState) -> None:
    before_online = {k: online_names(state, k) for k in (MAPPING, ROUTING)}
    before_figures = figures(state, MAPPING)
    flipped = state.drift(0.1)
    assert flipped == pytest.approx(100, abs=2)  # 10% of 500 + 500, rounded at random
    changed = sum(len(before_online[k] ^ online_names(state, k)) for k in (MAPPING, ROUTING))
    assert changed == flipped
    after = figures(state, MAPPING)
    moved = [name for name in before_figures.keys() & after.keys() if before_figures[name] != after[name]]
    assert 10 <= len(moved) <= 50


def test_drift_zero_changes_nothing(state: InstanceState) -> None:
    before = state.truth()
    assert state.drift(0.0) == 0
    assert state.truth() == before


def test_a_gateway_coming_online_registers_now(state: InstanceState) -> None:
    gateway = next(gw for gw in state.table(MAPPING) if gw.online is None and gw.config["registerType"] == 1)
    state.set_online(MAPPING, gateway.name, True)
    assert gateway.online is not None
    assert abs(gateway.online.register_time - state.now_ms()) < 5_000
    assert gateway.name in online_names(state, MAPPING)


def test_set_online_updates_the_cached_full_reply_and_performance(state: InstanceState) -> None:
    table = state.table(ROUTING)
    gateway = next(gw for gw in table if gw.online is not None)
    assert gateway.name in online_names(state, ROUTING)
    state.set_online(ROUTING, gateway.name, False)
    assert gateway.name not in online_names(state, ROUTING)
    assert gateway.name in {c["name"] for c in json.loads(table.config_reply(None))["infoGatewayRoutings"]}

    mapping = next(gw for gw in state.table(MAPPING) if gw.online is not None and gw.online.current_call)
    assert mapping.online is not None
    gateway_calls = mapping.online.current_call
    calls = json.loads(state.performance_reply())["infoPerformance"]["callSize"]
    state.set_online(MAPPING, mapping.name, False)
    after = json.loads(state.performance_reply())["infoPerformance"]["callSize"]
    assert after == calls - gateway_calls


def test_performance_counts_calls_of_online_mapping_gateways(state: InstanceState) -> None:
    expected = sum(gw.online.current_call for gw in state.table(MAPPING) if gw.online)
    assert json.loads(state.performance_reply())["infoPerformance"]["callSize"] == expected


def test_names_filter_keeps_vos_order_and_skips_unknown(state: InstanceState) -> None:
    table = state.table(MAPPING)
    wanted = [gw.name for gw in table][:5]
    reply = json.loads(table.config_reply([wanted[3], "no such gateway", wanted[0], wanted[3]]))
    assert [c["name"] for c in reply["infoGatewayMappings"]] == [wanted[0], wanted[3]]
    offline = next(gw.name for gw in table if gw.online is None)
    online = next(gw.name for gw in table if gw.online is not None)
    reply = json.loads(table.online_reply([offline, online]))
    assert [c["name"] for c in reply["infoGatewayMappingOnlines"]] == [online]


def test_add_gateway_with_config_overrides(state: InstanceState) -> None:
    overrides = {"prefix": "86,852", "protocol": 0, "signalPort": 1720, "capacity": 90}
    gateway = state.add_gateway(ROUTING, "新落地 test-1.a", True, overrides)
    item = json.loads(state.table(ROUTING).config_reply(["新落地 test-1.a"]))["infoGatewayRoutings"][0]
    assert item["prefix"] == "86,852"
    assert (item["protocol"], item["signalPort"], item["capacity"]) == (0, 1720, 90)
    assert gateway.id == 501
    assert "新落地 test-1.a" in online_names(state, ROUTING)


def test_add_gateway_refuses_duplicates_and_bad_fields(state: InstanceState) -> None:
    existing = next(iter(state.table(MAPPING))).name
    with pytest.raises(DuplicateGatewayError):
        state.add_gateway(MAPPING, existing, False, {})
    with pytest.raises(StateError, match="unknown mapping gateway config field 'remoteIp'"):
        state.add_gateway(MAPPING, "x", False, {"remoteIp": "1.2.3.4"})
    with pytest.raises(StateError, match="'capacity' must be like"):
        state.add_gateway(MAPPING, "x", False, {"capacity": "100"})
    with pytest.raises(StateError, match="'h323FastStart' must be like"):
        state.add_gateway(MAPPING, "x", False, {"h323FastStart": 1})
    with pytest.raises(StateError):
        state.add_gateway(MAPPING, "x", False, {"sipCodecs": "G729"})
    assert state.table(MAPPING).get("x") is None


def test_remove_gateway(state: InstanceState) -> None:
    gateway = next(gw for gw in state.table(MAPPING) if gw.online is not None)
    online_before = state.table(MAPPING).online_count
    state.remove_gateway(MAPPING, gateway.name)
    assert gateway.name not in online_names(state, MAPPING)
    assert state.table(MAPPING).online_count == online_before - 1
    assert len(json.loads(state.table(MAPPING).config_reply(None))["infoGatewayMappings"]) == 499
    with pytest.raises(UnknownGatewayError):
        state.remove_gateway(MAPPING, gateway.name)
    with pytest.raises(UnknownGatewayError):
        state.set_online(MAPPING, gateway.name, True)


def test_phone_replies(state: InstanceState) -> None:
    online = json.loads(state.all_phone_online_reply())["e164s"]
    assert 250 <= len(online) <= 350
    reply = json.loads(state.phone_online_reply([online[0], "860000", online[1], online[0]]))
    assert [p["e164"] for p in reply["infoPhoneOnlines"]] == online[:2]


def test_fee_group_and_suite_filters(state: InstanceState) -> None:
    groups = json.loads(state.fee_rate_group_reply(None))["infoFeeRateGroups"]
    first = groups[0]["name"]
    assert json.loads(state.fee_rate_group_reply([first]))["infoFeeRateGroups"] == [groups[0]]
    suites = json.loads(state.suite_reply([2]))["infoSuites"]
    assert [s["id"] for s in suites] == [2]


def test_drift_registers_and_drops_phones_and_moves_their_details(state: InstanceState) -> None:
    before = set(json.loads(state.all_phone_online_reply())["e164s"])
    details = {
        item["e164"]: (item["currentCall"], item["updateTime"])
        for item in json.loads(state.phone_online_reply(sorted(before)))["infoPhoneOnlines"]
    }
    state.drift(0.1)
    after = set(json.loads(state.all_phone_online_reply())["e164s"])
    assert before - after and after - before  # some dropped, some registered
    kept = sorted(before & after)
    moved = [
        item["e164"]
        for item in json.loads(state.phone_online_reply(kept))["infoPhoneOnlines"]
        if (item["currentCall"], item["updateTime"]) != details[item["e164"]]
    ]
    assert moved


def test_phone_details_carry_the_documented_fields(state: InstanceState) -> None:
    online = json.loads(state.all_phone_online_reply())["e164s"]
    item = json.loads(state.phone_online_reply(online[:1]))["infoPhoneOnlines"][0]
    assert set(item) == {
        *("e164", "currentCall", "remoteIp", "localIp", "registerTime"),
        *("updateTime", "protocol", "cryptoType", "productId"),
    }
    assert item["protocol"] in (0, 1) and item["updateTime"] > 10**12  # ms


def test_fee_groups_and_suites_change_under_drift(state: InstanceState) -> None:
    groups, suites = state.fee_rate_group_reply(None), state.suite_reply(None)
    for _ in range(40):
        state.drift(0.05)
    assert state.fee_rate_group_reply(None) != groups
    assert state.suite_reply(None) != suites
    names = [g["name"] for g in json.loads(state.fee_rate_group_reply(None))["infoFeeRateGroups"]]
    assert len(names) == len(set(names))
    ids = [s["id"] for s in json.loads(state.suite_reply(None))["infoSuites"]]
    assert len(ids) == len(set(ids))


def test_control_of_phones_groups_and_suites(state: InstanceState) -> None:
    number = state.online_phones()[0]
    assert state.set_phone_online(number, False) is None
    assert number not in json.loads(state.all_phone_online_reply())["e164s"]
    assert json.loads(state.phone_online_reply([number]))["infoPhoneOnlines"] == []
    entry = state.set_phone_online("8613800000000", True)
    assert entry is not None and entry["e164"] == "8613800000000"
    assert "8613800000000" in json.loads(state.all_phone_online_reply())["e164s"]
    state.set_fee_rate_groups([{"name": "only", "memo": ""}])
    assert json.loads(state.fee_rate_group_reply(None))["infoFeeRateGroups"] == [{"name": "only", "memo": ""}]
    state.set_suites([])
    assert json.loads(state.suite_reply(None))["infoSuites"] == []
