from typing import Any

from vosync.shared.catalogue import GatewayType
from vosync.sim.replies import (
    mapping_item,
    mapping_online_item,
    reply,
    routing_item,
    routing_online_item,
)
from vosync.writer.gateway_rows import parse_config, parse_online

MAPPING, ROUTING = GatewayType.MAPPING, GatewayType.ROUTING


def test_mapping_config_from_the_real_fields() -> None:
    snap = parse_config(
        reply("GetGatewayMapping", [mapping_item("b", 1, ips="10.0.0.7,10.0.0.8"), mapping_item("a", 2)]),
        "infoGatewayMappings",
        MAPPING,
    )
    assert snap.usable and snap.list_key == "infoGatewayMappings" and not snap.problems
    assert [r.name for r in snap.rows] == ["a", "b"]  # sorted by name
    b = snap.rows[1]
    assert (b.ordinal, b.ip_address, b.remote_ips) == (1, "10.0.0.7", ["10.0.0.7", "10.0.0.8"])
    assert (b.capacity, b.register_type, b.lock_type) == (60, 1, 0)
    assert (b.port, b.protocol, b.prefix) == (None, None, None)


def test_routing_config_from_the_real_fields() -> None:
    item = routing_item("r", 3, ip="172.16.9.9", protocol=1, signalPort=5060, prefix="86,0086")
    (row,) = parse_config(reply("GetGatewayRouting", [item]), "infoGatewayRoutings", ROUTING).rows
    assert (row.ip_address, row.remote_ips, row.port, row.protocol, row.prefix) == (
        "172.16.9.9",
        ["172.16.9.9"],
        5060,
        "SIP",
        "86,0086",
    )
    (h323,) = parse_config(
        reply("GetGatewayRouting", [routing_item("h", 0, protocol=0)]), "infoGatewayRoutings", ROUTING
    ).rows
    assert h323.protocol == "H323" and h323.port == 1720


def test_online_lists() -> None:
    snap = parse_online(
        reply("GetGatewayMappingOnline", [mapping_online_item("m", 4, currentCall=9, asr=0.61, acd=75)]),
        "infoGatewayMappingOnlines",
        MAPPING,
    )
    (row,) = snap.rows
    assert (row.name, row.concurrent_calls, row.asr, row.acd, row.ip_address) == (
        "m",
        9,
        0.61,
        75.0,
        "10.0.0.4",
    )
    assert '"currentCall":9' in row.item_json
    (route,) = parse_online(
        reply("GetGatewayRoutingOnline", [routing_online_item("r", 2)]), "infoGatewayRoutingOnlines", ROUTING
    ).rows
    assert route.ip_address == "172.16.0.2" and route.remote_ips == ["172.16.0.2"]


def test_the_older_systems_keys_are_not_the_real_ones() -> None:
    """yk-vos read `infoGatewayMappingsOnline`; VOS sends `infoGatewayMappingOnlines` (reference §2)."""
    wrong = {"retCode": 0, "infoGatewayMappingsOnline": [mapping_online_item("m")]}
    snap = parse_online(wrong, "infoGatewayMappingOnlines", MAPPING)
    assert not snap.usable and snap.problems == {"list_missing": 1}


def test_bad_data_is_counted_never_raised() -> None:
    reply_ = {
        "retCode": 0,
        "INFOGATEWAYMAPPINGS": [
            None,
            ["x"],
            {"name": ""},
            {"name": {"nested": 1}},
            {"name": "ok", "capacity": "many", "remoteIps": 5},
            {"name": "dup", "capacity": 1},
            {"name": "dup", "capacity": 2},
            {"Name": 42, "REMOTEIPS": "10.1.1.1"},
        ],
    }
    snap = parse_config(reply_, "infoGatewayMappings", MAPPING)
    assert snap.usable and [r.name for r in snap.rows] == ["42", "dup", "ok"]
    assert [r.capacity for r in snap.rows if r.name == "dup"] == [2]  # the last item of a name wins
    assert snap.rows[0].ip_address == "10.1.1.1"
    assert snap.problems == {
        "item_not_object": 2,
        "item_without_name": 2,
        "bad_value:name": 1,
        "bad_value:capacity": 1,
        "bad_value:remoteIps": 1,
        "duplicate_name": 1,
    }
    broken: list[Any] = [None, [], {"infoGatewayMappings": "x"}, {"retCode": 0}]
    for reply_value in broken:
        assert not parse_config(reply_value, "infoGatewayMappings", MAPPING).usable
