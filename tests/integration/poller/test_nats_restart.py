"""Publishing survives a NATS restart: the poller keeps polling, reconnects by itself, and every
result it produced reaches the stream exactly once (retried until acked; Nats-Msg-Id dedups)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from tests.fixtures.services import poller_running
from tests.integration.poller.conftest import (
    put_instances,
    sim_records,
)
from tests.support.waiting import wait_until
from vosync.deploy.embedded import EmbeddedNats
from vosync.poller.service import PollerService
from vosync.shared import bus
from vosync.shared.codec import decode
from vosync.shared.messages import FetchResult
from vosync.shared.settings import Settings
from vosync.sim.cluster import SimCluster

OUTAGE_S = 6.0
INTERVALS = {"GetGatewayMappingOnline": 0.2, "GetGatewayRoutingOnline": 0.2, "GetSuite": 0.5}


@pytest.fixture
async def own_nats(tmp_path: Path) -> AsyncIterator[EmbeddedNats]:
    """A NATS server of this test alone, so it can be restarted."""
    server = EmbeddedNats(tmp_path / "nats")
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


async def _ready(port: int) -> int:
    async with httpx.AsyncClient(timeout=2) as http:
        return (await http.get(f"http://127.0.0.1:{port}/health/ready")).status_code


async def test_results_survive_a_nats_restart(
    own_nats: EmbeddedNats, sim1: SimCluster, poller_settings: Callable[..., Settings]
) -> None:
    settings = poller_settings(
        nats_url=own_nats.url, poller_id="r", poll_intervals=INTERVALS, lease_ttl_s=6.0
    )
    client = await bus.connect(settings, "restart-test")
    await put_instances(client, settings, *sim_records(sim1))
    await client.close()

    async with poller_running(settings) as poller:
        await wait_until(lambda: poller.polling() == {1}, 5, "polling")
        assert await _ready(poller.ops_port) == 200
        down_wall = time.time()
        await asyncio.to_thread(own_nats.stop)
        down_at = time.monotonic()
        polls_before = _polls(poller)

        async def not_ready() -> bool:
            return await _ready(poller.ops_port) == 503

        await wait_until(not_ready, 5, "readiness down without NATS")
        # down longer than a publish waits for its ack (5 s), so publishes fail and are retried
        await wait_until(
            lambda: _polls(poller) >= polls_before + 20 and time.monotonic() - down_at > OUTAGE_S,
            OUTAGE_S + 5,
            "polling going on while NATS is down",
        )
        assert poller.polling() == {1}  # the lease (TTL 15 s) is still held
        await asyncio.to_thread(own_nats.start)
        outage = time.monotonic() - down_at

        async def ready() -> bool:
            return await _ready(poller.ops_port) == 200

        await wait_until(ready, 10, "readiness back after the restart")
        await wait_until(lambda: poller.publisher.pending == 0, 15, "the backlog published")
        polls_after = _polls(poller)
        await wait_until(lambda: _polls(poller) >= polls_after + 5, 5, "polling after the restart")
    # the poller stopped (flushed); every VOS call it made is in the stream once
    produced = _polls(poller)

    client = await bus.connect(settings, "restart-test")
    try:
        js = client.jetstream()
        info = await js.stream_info(bus.RESULTS_STREAM)
        assert info.state.messages == produced, (info.state.messages, produced, f"outage {outage:.1f} s")
        sub = await js.pull_subscribe(bus.RESULT_SUBJECTS, stream=bus.RESULTS_STREAM)
        stored = [decode(FetchResult, m.data, m.headers) for m in await sub.fetch(int(produced), timeout=5)]
        assert len({r.msg_id for r in stored}) == len(stored)
        back_wall = down_wall + outage
        during = [r for r in stored if down_wall < r.fetched_at.timestamp() < back_wall]
        assert during  # results fetched while NATS was down made it in
    finally:
        await client.close()


def _polls(poller: PollerService) -> float:
    total = 0.0
    for metric in poller.metrics.registry.collect():
        if metric.name == "vosync_poller_polls":
            total += sum(s.value for s in metric.samples if s.name.endswith("_total"))
    return total
