"""`vosync-poller` as a real process: ops endpoints with its metrics, and a clean SIGTERM shutdown
within 5 s that releases its leases (another poller need not wait for the TTL)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from nats.aio.client import Client as NatsClient
from nats.js.errors import KeyNotFoundError

from tests.integration.poller.conftest import (
    put_instances,
    sim_records,
)
from tests.support.waiting import wait_until
from vosync.deploy.processes import free_port
from vosync.shared import bus
from vosync.shared.settings import Settings
from vosync.sim.cluster import SimCluster

POLLER = Path(sys.executable).parent / "vosync-poller"


async def test_sigterm_stops_within_5_s_and_releases_leases(
    sim1: SimCluster, nc: NatsClient, nats_url: str, tmp_path: Path
) -> None:
    settings = Settings(nats_url=nats_url, lease_ttl_s=30)  # expiry alone would take 30 s
    await put_instances(nc, settings, *sim_records(sim1))
    ops_port = free_port("127.0.0.1")
    env = {
        **os.environ,
        "VOSYNC_NATS_URL": nats_url,
        "VOSYNC_POLLER_ID": "proc-1",
        "VOSYNC_LEASE_TTL_S": "30",
        "VOSYNC_OPS_PORT": str(ops_port),
        "VOSYNC_POLL_INTERVALS": json.dumps({"GetGatewayMappingOnline": 0.2, "GetSuite": 0.3}),
        "VOSYNC_LOG_FORMAT": "json",
    }
    log_path = tmp_path / "poller.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([str(POLLER)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        kv = (await bus.ensure_buckets(nc.jetstream(), settings))[bus.LEASES_BUCKET]

        async def owns() -> bool:
            try:
                return (await kv.get(bus.lease_key(1))).value == b"proc-1"
            except KeyNotFoundError:
                return False

        await wait_until(owns, 15, "the process holds the lease", step_s=0.1)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ops_port}", timeout=3) as http:
            assert (await http.get("/health")).status_code == 200

            async def ready() -> bool:
                answer = await http.get("/health/ready")
                return answer.status_code == 200 and answer.json()["checks"] == {
                    "nats": True,
                    "running": True,
                }

            await wait_until(ready, 5, "ready", step_s=0.1)

            async def polled() -> bool:
                text = (await http.get("/metrics")).text
                return 'vosync_poller_polls_total{api="GetSuite",outcome="ok"}' in text

            await wait_until(polled, 5, "polls in /metrics", step_s=0.2)
            metrics = (await http.get("/metrics")).text
        for line in (
            "vosync_poller_owned_instances 1.0",
            'vosync_poller_lease_changes_total{change="acquired"} 1.0',
            'vosync_poller_vos_latency_seconds_bucket{api="GetGatewayMappingOnline",le="+Inf"}',
            "vosync_poller_on_demand_requests_total",
            "vosync_poller_on_demand_coalesced_total 0.0",
            "vosync_poller_publish_backlog",
        ):
            assert line in metrics, line

        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 10)
        took = time.monotonic() - started
        assert code == 0 and took < 5, (code, took)
        for key in (bus.lease_key(1), bus.heartbeat_key("proc-1")):
            try:
                await kv.get(key)
                raise AssertionError(f"{key} left behind")
            except KeyNotFoundError:
                pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    events = [entry["msg"] for entry in lines]
    assert "poller started" in events and "lease acquired" in events
    assert "lease released" in events and events[-1] == "poller stopped"
    assert all(entry["service"] == "poller" for entry in lines)
    # one line per lease change, none per poll
    assert len(lines) < 20, events
