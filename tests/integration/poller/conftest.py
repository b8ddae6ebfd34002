"""Helpers for the poller's integration tests: real NATS (tests/conftest.py) + the VOS simulator.

The poller needs no database, so these tests build Settings from `nats_url` alone.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from tests.fixtures.sim import MakeVosSim
from vosync.shared import bus
from vosync.shared.codec import decode
from vosync.shared.instances import InstanceRecord
from vosync.shared.messages import FetchResult
from vosync.shared.settings import Settings
from vosync.sim.cluster import SimCluster

if TYPE_CHECKING:
    from vosync.poller.service import PollerService

# Every scheduled API, shortened so a test sees many intervals in a few seconds.
FAST_INTERVALS: dict[str, float] = {
    "GetGatewayMappingOnline": 0.5,
    "GetGatewayRoutingOnline": 0.5,
    "GetGatewayMapping": 1.0,
    "GetGatewayRouting": 1.0,
    "GetAllPhoneOnline": 1.5,
    "GetFeeRateGroup": 1.5,
    "GetSuite": 1.5,
}


@pytest.fixture
def poller_settings(nats_url: str) -> Callable[..., Settings]:
    """Settings for a poller on the test NATS: fast intervals, short timeouts, console logs."""

    def _make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "nats_url": nats_url,
            "log_format": "console",
            "poll_intervals": FAST_INTERVALS,
            "vos_timeout_s": 2.0,
            "lease_ttl_s": 3.0,
        }
        values.update(overrides)
        return Settings(**values)

    return _make


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NatsClient]:
    client = await bus.connect(Settings(nats_url=nats_url), "poller-tests")
    try:
        yield client
    finally:
        await client.close()


async def put_instances(client: NatsClient, settings: Settings, *records: InstanceRecord) -> None:
    """What the api does in production: mirror instance rows into the `vosync_instances` bucket."""
    buckets = await bus.ensure_buckets(client.jetstream(), settings)
    for record in records:
        await buckets[bus.INSTANCES_BUCKET].put(bus.instance_key(record.id), record.to_kv())


RunPoller = Callable[[Settings], Awaitable["PollerService"]]
StartPoller = Callable[..., Awaitable[tuple[Settings, "PollerService"]]]


@pytest.fixture
def start_poller(
    nc: NatsClient,
    poller_settings: Callable[..., Settings],
    run_poller: RunPoller,
) -> StartPoller:
    """`settings, poller = await start_poller(records, **overrides)`: the records put in the instances
    bucket, then a poller started on `poller_settings(**overrides)`."""

    async def _start(records: Iterable[InstanceRecord], **overrides: Any) -> tuple[Settings, PollerService]:
        settings = poller_settings(**overrides)
        await put_instances(nc, settings, *records)
        return settings, await run_poller(settings)

    return _start


def sim_records(sim: SimCluster, first_id: int = 1, **fields: Any) -> list[InstanceRecord]:
    return [
        InstanceRecord(id=first_id + i, name=f"vos-{first_id + i}", base_url=url, **fields)
        for i, url in enumerate(sim.urls)
    ]


async def sim_control(url: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        response = await http.request(method, "/_sim" + path, json=body)
        response.raise_for_status()
        return response.json()


async def sim_calls(url: str) -> dict[str, int]:
    stats = await sim_control(url, "GET", "/stats")
    calls: dict[str, int] = stats["calls"]
    return calls


async def set_fault(url: str, api: str = "*", mode: str = "none", latency_ms: float | None = None) -> None:
    body: dict[str, Any] = {"api": api, "mode": mode}
    if latency_ms is not None:
        body["latency_ms"] = latency_ms
    await sim_control(url, "POST", "/faults", body)


@dataclass
class Seen:
    result: FetchResult
    received: float  # monotonic


@dataclass
class ResultTap:
    """Every FetchResult published on `vos.result.>`, as a plain (core NATS) subscriber sees it."""

    seen: list[Seen] = field(default_factory=list)

    async def on_msg(self, msg: Msg) -> None:
        result = decode(FetchResult, msg.data, msg.headers)
        assert msg.headers and msg.headers.get("Nats-Msg-Id") == result.msg_id
        self.seen.append(Seen(result, time.monotonic()))

    def results(self, instance_id: int | None = None, api: str | None = None) -> list[FetchResult]:
        return [
            s.result
            for s in self.seen
            if (instance_id is None or s.result.instance_id == instance_id)
            and (api is None or s.result.api_name == api)
        ]


@pytest.fixture
async def tap(nc: NatsClient) -> AsyncIterator[ResultTap]:
    collected = ResultTap()
    sub = await nc.subscribe(bus.RESULT_SUBJECTS, cb=collected.on_msg)
    try:
        yield collected
    finally:
        await sub.unsubscribe()


@pytest.fixture
async def sim1(make_vos_sim: MakeVosSim) -> SimCluster:
    """One simulated VOS instance, small (30 gateways of each kind), no drift."""
    return await make_vos_sim(instances=1, gateways=30)
