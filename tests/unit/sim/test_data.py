"""The simulator's data: deterministic for a seed, and as varied as a real VOS's."""

from __future__ import annotations

import json
import re
from typing import Any

from vosync.sim.datagen import MAPPING, ROUTING
from vosync.sim.state import InstanceState

EPOCH_MS = 1_760_000_000_000


def every_reply(state: InstanceState) -> list[bytes]:
    return [
        state.table(MAPPING).config_reply(None),
        state.table(MAPPING).online_reply(None),
        state.table(ROUTING).config_reply(None),
        state.table(ROUTING).online_reply(None),
        state.all_phone_online_reply(),
        state.fee_rate_group_reply(None),
        state.suite_reply(None),
        state.performance_reply(),
        state.softswitch_reply(),
        state.truth(),
    ]


def configs(state: InstanceState, kind: str) -> list[dict[str, Any]]:
    return [gw.config for gw in state.table(kind)]


def test_same_seed_same_bytes() -> None:
    first = InstanceState(0, 120, seed=7, epoch_ms=EPOCH_MS)
    second = InstanceState(0, 120, seed=7, epoch_ms=EPOCH_MS)
    assert every_reply(first) == every_reply(second)


def test_seed_and_instance_change_the_data() -> None:
    base = InstanceState(0, 60, seed=7, epoch_ms=EPOCH_MS).table(MAPPING).config_reply(None)
    assert InstanceState(0, 60, seed=8, epoch_ms=EPOCH_MS).table(MAPPING).config_reply(None) != base
    assert InstanceState(1, 60, seed=7, epoch_ms=EPOCH_MS).table(MAPPING).config_reply(None) != base


def test_reset_restores_the_initial_bytes() -> None:
    state = InstanceState(0, 80, seed=3, epoch_ms=EPOCH_MS)
    before = every_reply(state)
    state.drift(0.5)
    state.remove_gateway(MAPPING, next(iter(state.table(MAPPING))).name)
    assert every_reply(state) != before
    state.install(state.build())
    assert every_reply(state) == before


def test_names_are_varied_and_unique_per_kind() -> None:
    state = InstanceState(0, 300, seed=11, epoch_ms=EPOCH_MS)
    for kind in (MAPPING, ROUTING):
        names = [c["name"] for c in configs(state, kind)]
        assert len(names) == len(set(names)) == 300
    everything = [c["name"] for kind in (MAPPING, ROUTING) for c in configs(state, kind)]
    assert any(re.search(r"[\u4e00-\u9fff]", n) for n in everything), "Chinese names"
    assert any(re.fullmatch(r"[A-Za-z0-9 ._-]+", n) for n in everything), "Latin names"
    for mark in (" ", ".", "-", "_"):
        assert any(mark in n for n in everything), f"names with {mark!r}"


def test_some_names_are_both_mapping_and_routing() -> None:
    for count in (1, 50, 300):
        state = InstanceState(0, count, seed=5, epoch_ms=EPOCH_MS)
        mapping = {c["name"] for c in configs(state, MAPPING)}
        routing = {c["name"] for c in configs(state, ROUTING)}
        assert len(mapping & routing) == max(1, count // 100)


def test_gateways_are_static_and_registered_with_addresses_and_prefixes() -> None:
    state = InstanceState(0, 400, seed=2, epoch_ms=EPOCH_MS)
    mapping, routing = configs(state, MAPPING), configs(state, ROUTING)
    assert {c["registerType"] for c in mapping} == {0, 1}
    assert {c["registerType"] for c in routing} == {0, 1, 2}
    assert all(c["remoteIps"] for c in mapping if c["registerType"] == 0)
    assert any("," in c["remoteIps"] for c in mapping), "IP lists"
    assert all(c["remoteIp"] for c in routing if c["registerType"] == 0)
    assert {c["protocol"] for c in routing} == {0, 1}
    assert all(c["signalPort"] == 1720 for c in routing if c["protocol"] == 0)
    assert any("," in c["prefix"] for c in routing), "prefix lists"
    assert any(c["password"] for c in mapping if c["registerType"] == 1)


def test_about_sixty_percent_online_with_consistent_figures() -> None:
    state = InstanceState(0, 1000, seed=9, epoch_ms=EPOCH_MS)
    for kind in (MAPPING, ROUTING):
        table = state.table(kind)
        assert 0.55 <= table.online_count / len(table) <= 0.65
        for gateway in table:
            if gateway.online is None:
                continue
            assert 0 <= gateway.online.current_call <= gateway.config["capacity"]
            static = gateway.config["registerType"] == 0
            assert (gateway.online.keep_time == 0) == static
            assert (gateway.online.register_time == 0) == static
            assert static or gateway.online.register_time <= EPOCH_MS


def test_online_entries_carry_the_instance_softswitch_and_match_their_config() -> None:
    state = InstanceState(3, 40, seed=1, epoch_ms=EPOCH_MS)
    reply = json.loads(state.table(ROUTING).online_reply(None))
    entries = reply["infoGatewayRoutingOnlines"]
    assert entries
    for entry in entries:
        config = state.table(ROUTING).get(entry["name"])
        assert config is not None
        assert entry["prefix"] == config.config["prefix"]
        assert entry["capacity"] == config.config["capacity"]
        assert entry["softswitchName"] == "softswitch4"
        if config.config["registerType"] == 0:
            assert entry["remoteIp"] == config.config["remoteIp"]


def test_zero_gateways_is_a_valid_empty_instance() -> None:
    state = InstanceState(0, 0, seed=1, epoch_ms=EPOCH_MS)
    assert json.loads(state.table(MAPPING).config_reply(None)) == {"retCode": 0, "infoGatewayMappings": []}
    assert json.loads(state.all_phone_online_reply()) == {"retCode": 0, "e164s": []}
    state.drift(1.0)
