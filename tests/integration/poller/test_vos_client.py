"""The VOS client against the simulator: success, and each fault mode with its error kind."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from tests.integration.poller.conftest import set_fault, sim_calls
from vosync.poller.vos_client import VosClient
from vosync.shared.cache_key import cache_key
from vosync.shared.catalogue import Catalogue
from vosync.shared.instances import InstanceRecord
from vosync.shared.messages import ErrorKind, FetchReason
from vosync.sim.cluster import SimCluster

CATALOGUE = Catalogue()
SIM_APIS = [
    "GetGatewayMapping",
    "GetGatewayMappingOnline",
    "GetGatewayRouting",
    "GetGatewayRoutingOnline",
    "GetAllPhoneOnline",
    "GetFeeRateGroup",
    "GetSuite",
    "GetPerformance",
    "GetSoftSwitch",
]
LIST_KEYS = {
    "GetGatewayMapping": "infoGatewayMappings",
    "GetGatewayMappingOnline": "infoGatewayMappingOnlines",
    "GetGatewayRouting": "infoGatewayRoutings",
    "GetGatewayRoutingOnline": "infoGatewayRoutingOnlines",
    "GetAllPhoneOnline": "e164s",
    "GetFeeRateGroup": "infoFeeRateGroups",
    "GetSuite": "infoSuites",
    "GetPerformance": "infoPerformance",
    "GetSoftSwitch": "infoSoftSwitches",
}


def _client(url: str, timeout_s: float | None = None, default_timeout_s: float = 2.0) -> VosClient:
    record = InstanceRecord(id=4, name="vos-4", base_url=url + "/", timeout_s=timeout_s)
    return VosClient(record, default_timeout_s=default_timeout_s, max_connections=2, poller_id="p-test")


@pytest.fixture
async def client(sim1: SimCluster) -> AsyncIterator[VosClient]:
    vos = _client(sim1.urls[0])
    try:
        yield vos
    finally:
        await vos.aclose()


@pytest.mark.parametrize("api", SIM_APIS)
async def test_success_for_every_simulated_api(client: VosClient, api: str) -> None:
    spec = CATALOGUE.spec(api)
    call = await client.fetch(spec, reason=FetchReason.SYNC, lease_revision=12)
    result = call.result
    assert result.ok, result.error
    assert call.http_status == 200 and not call.transport_failure
    assert result.error_kind is None and result.ret_code == 0
    assert result.response is not None and result.response["retCode"] == 0
    assert LIST_KEYS[api] in result.response
    assert result.instance_id == 4 and result.api_name == api and result.api_path == spec.path
    assert result.params == {} and result.cache_key == cache_key(spec.path, {})
    assert result.poller_id == "p-test" and result.lease_revision == 12 and result.reason is FetchReason.SYNC
    assert result.duration_ms > 0


async def test_params_reach_vos(client: VosClient, sim1: SimCluster) -> None:
    spec = CATALOGUE.spec("GetGatewayMapping")
    everything = (await client.fetch(spec)).result.response
    assert everything is not None
    name = everything["infoGatewayMappings"][0]["name"]
    call = await client.fetch(spec, {"names": [name]})
    assert call.result.ok and call.result.response is not None
    assert [g["name"] for g in call.result.response["infoGatewayMappings"]] == [name]
    assert call.result.params == {"names": [name]}
    assert call.result.cache_key == cache_key(spec.path, {"names": [name]}) != cache_key(spec.path, {})


async def test_gateway_config_arrives_in_the_canonical_spelling(client: VosClient) -> None:
    for api, key in (
        ("GetGatewayMapping", "infoGatewayMappings"),
        ("GetGatewayRouting", "infoGatewayRoutings"),
    ):
        response = (await client.fetch(CATALOGUE.spec(api))).result.response
        assert response is not None
        items = response[key]
        assert items and all("dtmfSendMethodSip" in item for item in items)
        assert not any(k.endswith("SIP") or "SIP" in k for item in items for k in item)


@pytest.mark.parametrize(
    ("mode", "kind", "ret_code"),
    [
        ("http_500", ErrorKind.HTTP_STATUS, None),
        ("invalid_json", ErrorKind.BAD_JSON, None),
        ("empty_body", ErrorKind.EMPTY_BODY, None),
        ("ret_code", ErrorKind.RET_CODE, -10007),
    ],
)
async def test_fault_modes(
    client: VosClient, sim1: SimCluster, mode: str, kind: ErrorKind, ret_code: int | None
) -> None:
    await set_fault(sim1.urls[0], "GetSuite", mode)
    result = (await client.fetch(CATALOGUE.spec("GetSuite"))).result
    assert not result.ok and result.error_kind is kind and result.ret_code == ret_code and result.error
    if kind is ErrorKind.RET_CODE:
        assert "Not found, operation failed." in result.error
        assert result.response == {"retCode": -10007, "exception": "Not found, operation failed."}
    else:
        assert result.response is None
    # the fault was for GetSuite only
    assert (await client.fetch(CATALOGUE.spec("GetFeeRateGroup"))).result.ok


async def test_http_500_is_a_transport_failure_a_ret_code_is_not(client: VosClient, sim1: SimCluster) -> None:
    await set_fault(sim1.urls[0], "*", "http_500")
    assert (await client.fetch(CATALOGUE.spec("GetSuite"))).transport_failure
    await set_fault(sim1.urls[0], "*", "ret_code")
    assert not (await client.fetch(CATALOGUE.spec("GetSuite"))).transport_failure


async def test_timeout_uses_the_instance_timeout(sim1: SimCluster) -> None:
    await set_fault(sim1.urls[0], "*", "timeout")
    vos = _client(sim1.urls[0], timeout_s=0.3, default_timeout_s=30)
    try:
        started = time.monotonic()
        call = await vos.fetch(CATALOGUE.spec("GetSuite"))
        elapsed = time.monotonic() - started
    finally:
        await vos.aclose()
    assert call.result.error_kind is ErrorKind.TIMEOUT and call.transport_failure
    assert 0.25 < elapsed < 1.5 and "0.3 s" in (call.result.error or "")


async def test_slow_vos_within_the_timeout_succeeds(client: VosClient, sim1: SimCluster) -> None:
    await set_fault(sim1.urls[0], "*", "none", latency_ms=200)
    call = await client.fetch(CATALOGUE.spec("GetSuite"))
    assert call.result.ok and call.result.duration_ms >= 190


async def test_unknown_api_is_an_http_status_not_a_transport_failure(client: VosClient) -> None:
    call = await client.fetch(CATALOGUE.spec("GetCdr"))  # in VOS's inventory, not simulated: HTTP 404
    assert call.result.error_kind is ErrorKind.HTTP_STATUS and call.http_status == 404
    assert call.result.error == "HTTP 404" and not call.transport_failure


async def test_nothing_listening_is_connect(sim1: SimCluster) -> None:
    url = sim1.urls[0]
    await sim1.stop()
    vos = _client(url)
    try:
        call = await vos.fetch(CATALOGUE.spec("GetSuite"))
    finally:
        await vos.aclose()
    assert call.result.error_kind is ErrorKind.CONNECT and call.transport_failure and call.http_status is None


async def test_concurrent_calls_share_the_pool_and_each_is_counted(
    client: VosClient, sim1: SimCluster
) -> None:
    spec = CATALOGUE.spec("GetFeeRateGroup")
    calls = await asyncio.gather(*(client.fetch(spec) for _ in range(20)))
    assert all(c.result.ok for c in calls)
    assert (await sim_calls(sim1.urls[0]))["GetFeeRateGroup"] == 20
