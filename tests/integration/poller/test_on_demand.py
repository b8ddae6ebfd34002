"""On-demand fetches over core NATS request-reply: coalescing, publishing, and the refusal contract."""

from __future__ import annotations

import asyncio
import time

import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import NoRespondersError

from tests.integration.poller.conftest import (
    ResultTap,
    StartPoller,
    set_fault,
    sim_calls,
    sim_records,
)
from tests.support.waiting import wait_until
from vosync.poller.service import PollerService
from vosync.shared import bus
from vosync.shared.cache_key import cache_key
from vosync.shared.codec import decode
from vosync.shared.instances import InstanceRecord
from vosync.shared.messages import FetchReason, FetchRequest, FetchResult
from vosync.sim.cluster import SimCluster

PATH = "/external/server/GetGatewayMapping"


async def _request(nc: NatsClient, instance_id: int, body: bytes, timeout: float = 10) -> Msg:
    return await nc.request(bus.fetch_subject(instance_id), body, timeout=timeout)


def _ask(instance_id: int, api: str, **kw: object) -> bytes:
    return (
        FetchRequest.model_validate({"instance_id": instance_id, "api_name": api, **kw})
        .model_dump_json()
        .encode()
    )


@pytest.fixture
async def on_demand_only(sim1: SimCluster, start_poller: StartPoller) -> PollerService:
    """A poller that owns no instance (pinned to one that does not exist): no scheduled calls."""
    records = [*sim_records(sim1), InstanceRecord(id=2, name="off", base_url=sim1.urls[0], enabled=False)]
    # A patient VOS timeout: the coalescing test holds its VOS call for seconds.
    _, poller = await start_poller(records, poller_id="od", poller_instances=[999], vos_timeout_s=10.0)
    return poller


async def test_200_concurrent_requests_one_vos_call(
    sim1: SimCluster, nc: NatsClient, tap: ResultTap, on_demand_only: PollerService
) -> None:
    url = sim1.urls[0]
    # The call stays in flight while all 200 arrive, also when a loaded CI machine spreads them out
    # (at 400 ms, then at 1.2 s, a machine at load 9 made two VOS calls of it).
    await set_fault(url, "GetGatewayMapping", latency_ms=4000)
    replies = await asyncio.gather(*(_request(nc, 1, _ask(1, "GetGatewayMapping")) for _ in range(200)))

    results = [decode(FetchResult, r.data, r.headers) for r in replies]
    assert (await sim_calls(url)).get("GetGatewayMapping") == 1
    assert len({r.msg_id for r in results}) == 1  # all 200 got the one result
    first = results[0]
    assert first.ok and first.response and len(first.response["infoGatewayMappings"]) == 30
    assert first.reason is FetchReason.ON_DEMAND and first.cache_key == cache_key(PATH, {})
    assert first.lease_revision is None  # this poller does not own instance 1
    # published to the stream like a scheduled result, once
    await wait_until(lambda: len(tap.results(1, "GetGatewayMapping")) == 1, 5, "the published result")
    assert tap.results(1, "GetGatewayMapping")[0].msg_id == first.msg_id
    js = nc.jetstream()
    assert (await js.stream_info(bus.RESULTS_STREAM)).state.messages == 1
    registry = on_demand_only.metrics.registry
    assert registry.get_sample_value("vosync_poller_on_demand_requests_total", {"outcome": "ok"}) == 200
    assert registry.get_sample_value("vosync_poller_on_demand_coalesced_total") == 199


async def test_distinct_params_are_distinct_keys(
    sim1: SimCluster, nc: NatsClient, on_demand_only: PollerService
) -> None:
    url = sim1.urls[0]
    await set_fault(url, "GetGatewayMappingOnline", latency_ms=200)
    everything = decode(FetchResult, (await _request(nc, 1, _ask(1, "GetGatewayMapping"))).data)
    assert everything.response is not None
    names = [g["name"] for g in everything.response["infoGatewayMappings"][:3]]
    asks = [_ask(1, "GetGatewayMappingOnline", params={"names": [n]}, reason="sync") for n in names] * 5
    replies = await asyncio.gather(*(_request(nc, 1, body) for body in asks))
    results = [decode(FetchResult, r.data, r.headers) for r in replies]
    assert (await sim_calls(url))["GetGatewayMappingOnline"] == 3
    assert {r.cache_key for r in results} == {
        cache_key("/external/server/GetGatewayMappingOnline", {"names": [n]}) for n in names
    }
    assert all(r.reason is FetchReason.SYNC and r.ok for r in results)


async def test_vos_failure_is_a_result_not_a_refusal(
    sim1: SimCluster, nc: NatsClient, tap: ResultTap, on_demand_only: PollerService
) -> None:
    await set_fault(sim1.urls[0], "GetSuite", "ret_code")
    reply = await _request(nc, 1, _ask(1, "GetSuite"))
    result = decode(FetchResult, reply.data, reply.headers)
    assert not result.ok and result.ret_code == -10007 and result.error_kind == "ret_code"
    assert not (reply.headers or {}).get(bus.FETCH_ERROR_HEADER)
    await wait_until(lambda: len(tap.results(1, "GetSuite")) == 1, 5, "the failure published")


@pytest.mark.parametrize(
    ("instance_id", "body", "status", "words"),
    [
        (7, _ask(7, "GetSuite"), "404", "unknown instance 7"),
        (2, _ask(2, "GetSuite"), "503", "disabled"),
        (1, _ask(1, "GetNothing"), "404", "unknown VOS API"),
        (1, _ask(1, "ModifyCustomer"), "403", "changes VOS state"),
        (1, _ask(1, "DeleteGatewayMapping"), "403", "changes VOS state"),
        (1, b"not json", "400", "bad FetchRequest"),
        (1, b'{"instance_id": 1}', "400", "api_name"),
        (1, b'{"instance_id": "x", "api_name": "GetSuite"}', "400", "instance_id"),
        (1, b'{"instance_id": 1, "api_name": "GetSuite", "params": [1]}', "400", "params"),
        (1, _ask(3, "GetSuite"), "400", "subject names instance 1"),
    ],
)
async def test_refusals(
    sim1: SimCluster,
    nc: NatsClient,
    on_demand_only: PollerService,
    instance_id: int,
    body: bytes,
    status: str,
    words: str,
) -> None:
    reply = await _request(nc, instance_id, body)
    assert reply.data == b""
    headers = reply.headers or {}
    assert headers.get(bus.FETCH_ERROR_STATUS_HEADER) == status
    assert words in headers.get(bus.FETCH_ERROR_HEADER, "")
    assert (await sim_calls(sim1.urls[0])) == {}
    registry = on_demand_only.metrics.registry
    assert registry.get_sample_value("vosync_poller_on_demand_requests_total", {"outcome": "rejected"}) == 1


async def test_any_poller_serves_any_instance_and_the_owner_stamps_its_lease(
    sim1: SimCluster, nc: NatsClient, start_poller: StartPoller
) -> None:
    _, owner = await start_poller(sim_records(sim1), poller_id="owner", poll_intervals={"GetSuite": 3600.0})
    await wait_until(lambda: owner.leases.owned_ids() == {1}, 5, "the lease")
    reply = decode(FetchResult, (await _request(nc, 1, _ask(1, "GetSuite"))).data)
    assert reply.ok and reply.poller_id == "owner" and reply.lease_revision == owner.leases.revision(1)


async def test_backing_off_instance_refuses_with_503(nc: NatsClient, start_poller: StartPoller) -> None:
    dead = InstanceRecord(id=5, name="down", base_url="http://127.0.0.1:9")  # discard port: refused
    await start_poller(
        [dead],
        poller_id="od",
        poller_instances=[999],
        backoff_after_failures=2,
        backoff_base_s=30,
        backoff_max_s=30,
    )
    kinds = [
        decode(FetchResult, (await _request(nc, 5, _ask(5, "GetSuite"))).data).error_kind for _ in range(2)
    ]
    assert kinds == ["connect", "connect"]
    started = time.monotonic()
    reply = await _request(nc, 5, _ask(5, "GetSuite"))
    headers = reply.headers or {}
    assert reply.data == b"" and headers[bus.FETCH_ERROR_STATUS_HEADER] == "503"
    assert "backing off" in headers[bus.FETCH_ERROR_HEADER]
    assert time.monotonic() - started < 1  # refused at once, no VOS call


async def test_stop_finishes_a_request_in_progress_and_takes_no_new_one(
    sim1: SimCluster, nc: NatsClient, on_demand_only: PollerService
) -> None:
    await set_fault(sim1.urls[0], "GetGatewayMapping", latency_ms=400)
    in_progress = asyncio.create_task(_request(nc, 1, _ask(1, "GetGatewayMapping")))
    await asyncio.sleep(0.15)  # the VOS call is under way
    stopping = asyncio.create_task(on_demand_only.stop())
    await asyncio.sleep(0.05)
    with pytest.raises(NoRespondersError):  # unsubscribed at once: the queue group's others serve
        await _request(nc, 1, _ask(1, "GetSuite"), timeout=2)
    reply = await in_progress
    assert decode(FetchResult, reply.data, reply.headers).ok
    await stopping
