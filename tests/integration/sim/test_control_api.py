"""The /_sim/ control API: counters, the truth about gateways, changing them, drift and reset."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.integration.sim.conftest import vos
from vosync.sim.cluster import SimCluster


async def truth(http: httpx.AsyncClient, base: str) -> dict[str, list[dict[str, Any]]]:
    response = await http.get(f"{base}/_sim/gateways")
    assert response.status_code == 200
    result: dict[str, list[dict[str, Any]]] = response.json()
    return result


async def online_names(http: httpx.AsyncClient, base: str, kind: str) -> set[str]:
    api, key = {
        "mapping": ("GetGatewayMappingOnline", "infoGatewayMappingOnlines"),
        "routing": ("GetGatewayRoutingOnline", "infoGatewayRoutingOnlines"),
    }[kind]
    return {item["name"] for item in (await vos(http, base, api)).json()[key]}


async def test_counters_count_vos_calls_only(vos_sim: SimCluster, http: httpx.AsyncClient) -> None:
    base = vos_sim.urls[0]
    for _ in range(3):
        await vos(http, base, "GetPerformance")
    await vos(http, base, "GetSuite", content=b"")  # unparseable, still a call
    await vos(http, base, "GetNothing")
    await http.get(f"{base}/_sim/gateways")
    stats = (await http.get(f"{base}/_sim/stats")).json()
    assert stats == {"calls": {"GetNothing": 1, "GetPerformance": 3, "GetSuite": 1}, "total": 5}
    assert (await http.get(f"{vos_sim.urls[1]}/_sim/stats")).json() == {"calls": {}, "total": 0}
    assert (await http.post(f"{base}/_sim/stats/reset")).status_code == 200
    assert (await http.get(f"{base}/_sim/stats")).json() == {"calls": {}, "total": 0}


async def test_truth_matches_the_vos_replies(vos_sim: SimCluster, http: httpx.AsyncClient) -> None:
    base = vos_sim.urls[0]
    state = await truth(http, base)
    assert len(state["mapping"]) == len(state["routing"]) == 50
    for kind in ("mapping", "routing"):
        expected = {g["name"] for g in state[kind] if g["online"]}
        assert expected == await online_names(http, base, kind)
        for gateway in state[kind]:
            assert gateway["online"] == (gateway["onlineInfo"] is not None)
            assert gateway["config"]["name"] == gateway["name"]
    configs = (await vos(http, base, "GetGatewayMapping")).json()["infoGatewayMappings"]
    assert configs == [g["config"] for g in state["mapping"]]


async def test_set_stats_changes_the_online_figures(vos_sim: SimCluster, http: httpx.AsyncClient) -> None:
    base = vos_sim.urls[0]
    state = await truth(http, base)
    online = next(g for g in state["mapping"] if g["online"])
    offline = next(g for g in state["mapping"] if not g["online"])
    url = f"{base}/_sim/gateways/mapping/{quote(online['name'], safe='')}/stats"
    response = await http.post(url, json={"concurrent_calls": 7, "asr": 12.345, "acd": 99})
    assert response.status_code == 200, response.text
    items = (await vos(http, base, "GetGatewayMappingOnline")).json()["infoGatewayMappingOnlines"]
    item = next(i for i in items if i["name"] == online["name"])
    assert (item["currentCall"], item["asr"], item["acd"]) == (7, 12.35, 99)
    # Only the figures given change.
    assert (await http.post(url, json={"asr": 50})).status_code == 200
    items = (await vos(http, base, "GetGatewayMappingOnline")).json()["infoGatewayMappingOnlines"]
    item = next(i for i in items if i["name"] == online["name"])
    assert (item["currentCall"], item["asr"], item["acd"]) == (7, 50, 99)

    bad = await http.post(url, json={"asr": 101})
    assert bad.status_code == 400 and "asr" in bad.json()["error"]
    assert (await http.post(url, json={"calls": 1})).status_code == 400
    assert (await http.post(url, json={})).status_code == 400
    off_url = f"{base}/_sim/gateways/mapping/{quote(offline['name'], safe='')}/stats"
    gone = await http.post(off_url, json={"asr": 10})
    assert gone.status_code == 409 and "offline" in gone.json()["error"]
    missing = await http.post(f"{base}/_sim/gateways/mapping/no-such/stats", json={"asr": 10})
    assert missing.status_code == 404


async def test_flip_online_both_ways(vos_sim: SimCluster, http: httpx.AsyncClient) -> None:
    base = vos_sim.urls[0]
    state = await truth(http, base)
    gateway = next(g for g in state["routing"] if g["online"])
    url = f"{base}/_sim/gateways/routing/{quote(gateway['name'], safe='')}/online"
    response = await http.post(url, json={"online": False})
    assert response.status_code == 200 and response.json()["online"] is False
    assert gateway["name"] not in await online_names(http, base, "routing")
    response = await http.post(url, json={"online": True})
    assert response.json()["online"] is True and response.json()["onlineInfo"]["name"] == gateway["name"]
    assert gateway["name"] in await online_names(http, base, "routing")


async def test_a_name_shared_by_mapping_and_routing_flips_on_one_side_only(
    vos_sim: SimCluster, http: httpx.AsyncClient
) -> None:
    base = vos_sim.urls[0]
    state = await truth(http, base)
    shared = ({g["name"] for g in state["mapping"]} & {g["name"] for g in state["routing"]}).pop()
    for kind in ("mapping", "routing"):
        await http.post(
            f"{base}/_sim/gateways/{kind}/{quote(shared, safe='')}/online", json={"online": False}
        )
    await http.post(f"{base}/_sim/gateways/mapping/{quote(shared, safe='')}/online", json={"online": True})
    assert shared in await online_names(http, base, "mapping")
    assert shared not in await online_names(http, base, "routing")


async def test_add_and_remove_a_gateway(vos_sim: SimCluster, http: httpx.AsyncClient) -> None:
    base = vos_sim.urls[1]
    name = "新客户 acme.voice-1"
    body = {
        "name": name,
        "online": True,
        "capacity": 77,
        "remoteIps": "192.0.2.1,192.0.2.2",
        "registerType": 0,
    }
    response = await http.post(f"{base}/_sim/gateways/mapping", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["onlineInfo"]["remoteIps"] == "192.0.2.1,192.0.2.2"
    config = (await vos(http, base, "GetGatewayMapping", {"names": [name]})).json()["infoGatewayMappings"]
    assert config[0]["capacity"] == 77
    assert name in await online_names(http, base, "mapping")
    assert (await http.post(f"{base}/_sim/gateways/mapping", json=body)).status_code == 409

    response = await http.delete(f"{base}/_sim/gateways/mapping/{quote(name, safe='')}")
    assert response.status_code == 200
    assert name not in await online_names(http, base, "mapping")
    assert (await vos(http, base, "GetGatewayMapping", {"names": [name]})).json()["infoGatewayMappings"] == []
    assert (await http.delete(f"{base}/_sim/gateways/mapping/{quote(name, safe='')}")).status_code == 404


async def test_added_gateway_is_offline_unless_asked(vos_sim: SimCluster, http: httpx.AsyncClient) -> None:
    base = vos_sim.urls[0]
    response = await http.post(f"{base}/_sim/gateways/routing", json={"name": "LD new/1"})
    assert response.status_code == 201
    assert response.json()["online"] is False
    url = f"{base}/_sim/gateways/routing/{quote('LD new/1', safe='')}/online"
    assert (await http.post(url, json={"online": True})).status_code == 200
    assert "LD new/1" in await online_names(http, base, "routing")


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/_sim/gateways/mapping", b'{"online": true}', 400),
        ("POST", "/_sim/gateways/mapping", b'{"name": "  "}', 400),
        ("POST", "/_sim/gateways/mapping", b'{"name": "x", "online": "yes"}', 400),
        ("POST", "/_sim/gateways/mapping", b'{"name": "x", "capacity": "many"}', 400),
        ("POST", "/_sim/gateways/mapping", b'{"name": "x", "noSuchField": 1}', 400),
        ("POST", "/_sim/gateways/mapping", b"not json", 400),
        ("POST", "/_sim/gateways/switch", b'{"name": "x"}', 404),
        ("POST", "/_sim/gateways/mapping/nobody/online", b'{"online": true}', 404),
        ("POST", "/_sim/gateways/mapping/nobody/online", b'{"online": 1}', 400),
        ("DELETE", "/_sim/gateways/routing/nobody", b"", 404),
        ("POST", "/_sim/changes", b'{"interval_s": -1, "fraction": 0.1}', 400),
        ("POST", "/_sim/changes", b'{"interval_s": 1, "fraction": 2}', 400),
        ("POST", "/_sim/changes", b'{"interval_s": 1}', 400),
        ("GET", "/_sim/nothing", b"", 404),
        ("GET", "/_sim/reset", b"", 404),
        ("PUT", "/_sim/stats", b"", 404),
    ],
)
async def test_bad_control_requests_answer_json_errors(
    vos_sim: SimCluster, http: httpx.AsyncClient, method: str, path: str, body: bytes, status: int
) -> None:
    before = await truth(http, vos_sim.urls[0])
    response = await http.request(method, vos_sim.urls[0] + path, content=body)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]
    assert await truth(http, vos_sim.urls[0]) == before


async def test_drift_rate_can_be_set_and_stopped(vos_sim: SimCluster, http: httpx.AsyncClient) -> None:
    base = vos_sim.urls[0]
    assert (await http.get(f"{base}/_sim/changes")).json() == {"interval_s": 0.0, "fraction": 0.0}
    before = await truth(http, base)
    response = await http.post(f"{base}/_sim/changes", json={"interval_s": 0.05, "fraction": 0.2})
    assert response.json() == {"interval_s": 0.05, "fraction": 0.2}
    deadline = time.monotonic() + 5
    while (now := await truth(http, base)) == before:
        assert time.monotonic() < deadline, "no drift within 5 s"
        await asyncio.sleep(0.05)
    flipped = [
        g["name"]
        for g, h in zip(before["mapping"], now["mapping"], strict=True)
        if g["online"] != h["online"]
    ]
    assert flipped or now["routing"] != before["routing"]

    await http.post(f"{base}/_sim/changes", json={"interval_s": 0, "fraction": 0.2})
    stopped = await truth(http, base)
    await asyncio.sleep(0.3)  # six former intervals: nothing may change now
    assert await truth(http, base) == stopped


async def test_tick_changes_now(vos_sim: SimCluster, http: httpx.AsyncClient) -> None:
    base = vos_sim.urls[0]
    before = await truth(http, base)
    response = await http.post(f"{base}/_sim/changes/tick", json={"fraction": 0.5})
    assert response.json()["flipped"] >= 30
    assert await truth(http, base) != before
    assert (await http.post(f"{base}/_sim/changes/tick")).json()["flipped"] == 0, "configured fraction is 0"


async def test_reset_restores_data_faults_counters_and_drift(
    vos_sim: SimCluster, http: httpx.AsyncClient
) -> None:
    base = vos_sim.urls[0]
    before = (await vos(http, base, "GetGatewayMapping")).content, await truth(http, base)
    await http.post(f"{base}/_sim/gateways/mapping", json={"name": "temp", "online": True})
    await http.post(f"{base}/_sim/changes/tick", json={"fraction": 0.5})
    await http.post(f"{base}/_sim/changes", json={"interval_s": 100, "fraction": 0.5})
    await http.post(f"{base}/_sim/faults", json={"api": "GetSuite", "mode": "http_500"})
    response = await http.post(f"{base}/_sim/reset")
    assert response.status_code == 200
    assert (await http.get(f"{base}/_sim/stats")).json() == {"calls": {}, "total": 0}
    assert (await http.get(f"{base}/_sim/faults")).json() == {}
    assert (await http.get(f"{base}/_sim/changes")).json() == {"interval_s": 0.0, "fraction": 0.0}
    assert (await vos(http, base, "GetSuite")).status_code == 200
    assert ((await vos(http, base, "GetGatewayMapping")).content, await truth(http, base)) == before


async def test_info(vos_sim: SimCluster, http: httpx.AsyncClient) -> None:
    info = (await http.get(f"{vos_sim.urls[1]}/_sim/info")).json()
    assert info["index"] == 1
    assert info["gateways"]["mapping"]["total"] == 50
    assert 0 < info["gateways"]["routing"]["online"] < 50


async def test_register_and_drop_a_phone(vos_sim: SimCluster, http: httpx.AsyncClient) -> None:
    base = vos_sim.urls[0]
    listed = (await vos(http, base, "GetAllPhoneOnline")).json()["e164s"]
    truth = (await http.get(f"{base}/_sim/phones")).json()
    assert [p["e164"] for p in truth["online"]] == listed
    assert truth["fee_rate_groups"] == (await vos(http, base, "GetFeeRateGroup")).json()["infoFeeRateGroups"]
    assert truth["suites"] == (await vos(http, base, "GetSuite")).json()["infoSuites"]

    dropped = await http.post(f"{base}/_sim/phones/{listed[0]}/online", json={"online": False})
    assert dropped.status_code == 200 and dropped.json() == {
        "e164": listed[0],
        "online": False,
        "entry": None,
    }
    added = await http.post(f"{base}/_sim/phones/8613700000000/online", json={"online": True})
    assert added.status_code == 200 and added.json()["entry"]["e164"] == "8613700000000"
    now = (await vos(http, base, "GetAllPhoneOnline")).json()["e164s"]
    assert listed[0] not in now and "8613700000000" in now
    details = (await vos(http, base, "GetPhoneOnline", {"e164s": ["8613700000000"]})).json()
    assert details["infoPhoneOnlines"] == [added.json()["entry"]]

    bad = await http.post(f"{base}/_sim/phones/86-1/online", json={"online": True})
    assert bad.status_code == 400 and "digits" in bad.json()["error"]
    assert (await http.post(f"{base}/_sim/phones/861/online", json={"online": "yes"})).status_code == 400
