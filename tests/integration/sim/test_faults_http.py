"""Each fault mode and latency, set through the control API, as a VOS client sees them."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from tests.integration.sim.conftest import vos
from vosync.sim.cluster import SimCluster


async def set_fault(http: httpx.AsyncClient, base: str, **body: Any) -> dict[str, Any]:
    response = await http.post(f"{base}/_sim/faults", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_http_500(vos_sim: SimCluster, http: httpx.AsyncClient) -> None:
    base = vos_sim.urls[0]
    await set_fault(http, base, api="GetSuite", mode="http_500")
    response = await vos(http, base, "GetSuite")
    assert response.status_code == 500
    assert (await vos(http, base, "GetFeeRateGroup")).status_code == 200, "other APIs unaffected"
    assert (await vos(http, vos_sim.urls[1], "GetSuite")).status_code == 200, "other instances unaffected"


async def test_invalid_json(vos_sim: SimCluster, http: httpx.AsyncClient) -> None:
    base = vos_sim.urls[0]
    await set_fault(http, base, api="GetGatewayMapping", mode="invalid_json")
    response = await vos(http, base, "GetGatewayMapping")
    assert response.status_code == 200 and response.content
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


async def test_empty_body(vos_sim: SimCluster, http: httpx.AsyncClient) -> None:
    base = vos_sim.urls[0]
    await set_fault(http, base, api="*", mode="empty_body")
    response = await vos(http, base, "GetGatewayMappingOnline")
    assert (response.status_code, response.content) == (200, b"")


async def test_ret_code_default_and_chosen(vos_sim: SimCluster, http: httpx.AsyncClient) -> None:
    base = vos_sim.urls[0]
    await set_fault(http, base, api="GetPerformance", mode="ret_code")
    assert (await vos(http, base, "GetPerformance")).json() == {
        "retCode": -10007,
        "exception": "Not found, operation failed.",
    }
    await set_fault(http, base, api="GetPerformance", ret_code=-10031, exception="软交换超时")
    assert (await vos(http, base, "GetPerformance")).json() == {"retCode": -10031, "exception": "软交换超时"}


async def test_timeout_holds_the_request_without_blocking_others(
    vos_sim: SimCluster, http: httpx.AsyncClient
) -> None:
    base = vos_sim.urls[0]
    await set_fault(http, base, api="GetGatewayRouting", mode="timeout")
    held = asyncio.create_task(vos(http, base, "GetGatewayRouting", timeout=1.5))
    started = time.monotonic()
    for _ in range(5):  # served while the other request hangs
        assert (await vos(http, base, "GetSuite")).status_code == 200
    assert time.monotonic() - started < 1.0
    with pytest.raises(httpx.ReadTimeout):
        await held
    assert time.monotonic() - started >= 1.4


async def test_stop_releases_held_requests(make_vos_sim: Any, http: httpx.AsyncClient) -> None:
    sim = await make_vos_sim()
    await set_fault(http, sim.urls[0], api="*", mode="timeout")
    held = asyncio.create_task(vos(http, sim.urls[0], "GetSuite", timeout=30))
    await asyncio.sleep(0.2)  # let the request reach the simulator before it stops
    started = time.monotonic()
    await sim.stop()
    assert time.monotonic() - started < 3
    with pytest.raises(httpx.HTTPError):
        (await held).raise_for_status()


async def test_fixed_and_ranged_latency_with_any_mode(vos_sim: SimCluster, http: httpx.AsyncClient) -> None:
    base = vos_sim.urls[0]
    await set_fault(http, base, api="GetSoftSwitch", latency_ms=300)
    started = time.monotonic()
    assert (await vos(http, base, "GetSoftSwitch")).json()["retCode"] == 0
    assert time.monotonic() - started >= 0.3

    await set_fault(http, base, api="GetSoftSwitch", mode="http_500", latency_ms=[100, 200])
    started = time.monotonic()
    assert (await vos(http, base, "GetSoftSwitch")).status_code == 500
    assert 0.1 <= time.monotonic() - started < 1.0


async def test_api_rule_overrides_star_and_clear_restores(
    vos_sim: SimCluster, http: httpx.AsyncClient
) -> None:
    base = vos_sim.urls[0]
    await set_fault(http, base, api="*", mode="http_500")
    rules = await set_fault(http, base, api="GetSuite", mode="none")
    assert rules["*"]["mode"] == "http_500" and rules["GetSuite"]["mode"] == "none"
    assert (await http.get(f"{base}/_sim/faults")).json() == rules
    assert (await vos(http, base, "GetSuite")).status_code == 200
    assert (await vos(http, base, "GetPerformance")).status_code == 500
    assert (await http.delete(f"{base}/_sim/faults")).status_code == 200
    assert (await vos(http, base, "GetPerformance")).status_code == 200
    assert (await http.get(f"{base}/_sim/faults")).json() == {}


@pytest.mark.parametrize(
    "body",
    [
        b"nope",
        b"[]",
        b'{"api": "GetNothing", "mode": "timeout"}',
        b'{"api": "*", "mode": "explode"}',
        b'{"api": "*", "latency_ms": [3, 1]}',
    ],
)
async def test_bad_fault_bodies_are_400_with_a_message(
    vos_sim: SimCluster, http: httpx.AsyncClient, body: bytes
) -> None:
    response = await http.post(f"{vos_sim.urls[0]}/_sim/faults", content=body)
    assert response.status_code == 400
    assert response.json()["error"]
