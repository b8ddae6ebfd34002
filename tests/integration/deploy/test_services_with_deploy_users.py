"""The three real services, each run from its console script with its own deploy NATS user against a
server from deploy/nats/single.conf: the whole path works through the permissions — an instance
created through the api reaches the pollers (KV), its results the writers, its gateways the api; an
on-demand fetch goes api -> poller -> api; a cache invalidation is announced — and no service is
ever refused anything by the server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.deploy.deployed_nats import PASSWORDS, DeployedNats
from tests.support.processes import ServiceProc, stop_all
from vosync.sim.cluster import SimCluster

pytestmark = pytest.mark.slow  # three service processes: ~15 s

ADMIN_KEY = "test-admin-key"
DEADLINE_S = 45.0


@pytest.fixture
async def processes() -> AsyncIterator[list[ServiceProc]]:
    started: list[ServiceProc] = []
    yield started
    await stop_all(started)


def _env(deployed_nats: DeployedNats, user: str, **extra: str) -> dict[str, str]:
    return {
        "VOSYNC_NATS_URL": deployed_nats.url,
        "VOSYNC_NATS_USER": user,
        "VOSYNC_NATS_PASSWORD": PASSWORDS[user],
        **extra,
    }


async def test_all_services_work_through_their_permissions(
    deployed_nats: DeployedNats,
    processes: list[ServiceProc],
    database_url: str,
    vos_sim: SimCluster,
    tmp_path: Path,
) -> None:
    fast = json.dumps(dict.fromkeys(["GetGatewayMapping", "GetGatewayRouting"], 2.0))
    writer_env = _env(deployed_nats, "writer", VOSYNC_DATABASE_URL=database_url)
    services = [
        ServiceProc("writer", "vosync-writer", writer_env, tmp_path),
        ServiceProc(
            "api",
            "vosync-api",
            _env(
                deployed_nats,
                "api",
                VOSYNC_DATABASE_URL=database_url,
                VOSYNC_AUTH="required",
                VOSYNC_API_KEYS=f"{ADMIN_KEY}:admin",
            ),
            tmp_path,
        ),
        ServiceProc(
            "poller", "vosync-poller", _env(deployed_nats, "poller", VOSYNC_POLL_INTERVALS=fast), tmp_path
        ),
    ]
    for proc in services:
        processes.append(proc)
        proc.start()
    for proc in services:
        await proc.wait_ready()
    api = services[1]

    headers = {"X-API-Key": ADMIN_KEY}
    async with httpx.AsyncClient(base_url=f"{api.url}/api/v1", headers=headers, timeout=20) as http:
        # an instance created through the api (table + KV mirror), as the compose demo job does it;
        # registering it again is a 409, which that job counts as done
        body = {"name": "sim-1", "base_url": vos_sim.urls[0]}
        created = await http.post("/instances", json=body)
        assert created.status_code == 201, created.text
        instance_id = created.json()["id"]
        assert (await http.post("/instances", json=body)).status_code == 409
        changed = await http.patch(f"/instances/{instance_id}", json={"description": "deploy test"})
        assert changed.status_code == 200, changed.text

        # pollers learn it from KV, writers store its gateways, the api serves them
        async def gateways() -> dict[str, Any]:
            reply = await http.get(f"/instances/{instance_id}/gateways")
            assert reply.status_code == 200, reply.text
            counts: dict[str, Any] = reply.json()["counts"]
            return counts

        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE_S
        while (counts := await gateways())["mapping"]["total"] != 50 or counts["routing"]["total"] != 50:
            assert loop.time() < deadline, f"gateways never arrived: {counts}\n" + "\n".join(
                p.log_tail(15) for p in services
            )
            await asyncio.sleep(0.25)

        # an on-demand fetch: api -> vos.fetch.<id> -> a poller (queue group) -> reply to the api
        proxy = f"/vos-api/instances/{instance_id}/GetSuite"
        fetched = await http.post(proxy, params={"refresh": "true"}, json={})
        assert fetched.status_code == 200, fetched.text
        assert fetched.json()["success"] is True and fetched.json()["data_source"] == "vos_api"

        # the operator's status: the api reads the pollers' heartbeats and leases (KV vosync_leases)
        # and the writers' consumer, read only, through its own user
        status = await http.get("/status")
        assert status.status_code == 200, status.text
        services_status = status.json()["services"]
        assert services_status["problems"] == [], services_status
        assert services_status["pollers"]["up"] == 1
        assert isinstance(services_status["writers"]["consumer_lag"], int)
        [inst] = status.json()["instances"]
        assert inst["name"] == "sim-1" and inst["poller_id"] is not None

        # an invalidation, announced to the other api replicas on vos.cache.changed.<id>
        invalidated = await http.delete(f"/instances/{instance_id}/cache")
        assert invalidated.status_code == 200, invalidated.text
        assert invalidated.json()["invalidated"] > 0

    for proc in services:
        assert await proc.ready(), f"{proc.name}:\n{proc.log_tail()}"
        log = proc.log_text().lower()
        assert "permissions violation" not in log and "authorization violation" not in log, proc.log_tail()
