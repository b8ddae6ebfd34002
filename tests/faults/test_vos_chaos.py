"""VOS chaos: every fault mode of the simulator, random latency up to the timeout, and a VOS that is
down for a while. The poller records each failure with the right error_kind, backs off while VOS
is down, resumes when it answers; the writer keeps the last good data; the api serves it (stale)
or a documented error; at the end every invariant holds.

Instance 1 gets the chaos; instance 2 stays healthy next to it. make test keeps the outage at
tens of seconds with a 1 s VOS timeout and backoff capped at 4 s; the soak (tests/faults/soak.py)
runs chaos for many minutes.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.faults.conftest import MakeSystem
from tests.faults.drifting_system import start_drifting_system
from tests.faults.invariants import poll_until
from tests.faults.load import ApiLoad, routes_for
from tests.faults.system import API_ANSWER_LIMIT_S, READ, READ_KEY, VOS_TIMEOUT_S, FaultSystem
from tests.support.processes import metric_sum

pytestmark = pytest.mark.slow

# Simulator fault mode → the error_kind of the FetchResult it must produce.
FAULT_KINDS = {
    "timeout": "timeout",
    "http_500": "http_status",
    "invalid_json": "bad_json",
    "empty_body": "empty_body",
    "ret_code": "ret_code",
}
BACKOFF_MAX_S = 4.0
DOWN_S = 20.0
SETTLE_S = 5.0  # of the outage: by then the backoff delay has grown to its cap
NORMAL_CALLS_PER_S = 2 / 1.0 + 2 / 2.0 + 3 / 3.0  # the scheduled APIs of one instance (system.py)

# Gateways added to the healthy VOS: names with URL-special characters, quotes, emoji, 255 characters;
# values of the right JSON type but out of range or unknown. Expected: the same name in the table and
# through the api, unreadable values NULL.
ODD_GATEWAYS: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    ("mapping", "a/b%2F c?&=#;..+", {"remoteIps": ",,10.9.9.9,,;10.9.9.8"}, {"ip_address": "10.9.9.9"}),
    ("mapping", "名字 'q' \"dq\" 🚀 <b>", {"capacity": 2**40}, {"capacity": None}),
    ("routing", "x" * 255, {"signalPort": 99_999_999_999}, {"port": None}),
    ("routing", "Ω-" + "长" * 100, {"protocol": 7}, {"protocol": None}),
]


async def failure_recorded(system: FaultSystem, instance_id: int, kind: str, since: object) -> bool:
    count = await system.conn.fetchval(
        "SELECT count(*) FROM vos_data_cache"
        " WHERE vos_instance_id = $1 AND error_kind = $2 AND last_error_at > $3",
        instance_id,
        kind,
        since,
    )
    return bool(count)


async def connect_failures(system: FaultSystem) -> float:
    return metric_sum(await system.procs["poller"].metrics(), "vosync_poller_polls_total", outcome="connect")


async def test_every_fault_mode_latency_and_a_vos_outage(
    make_system: MakeSystem, nats_url: str, database_url: str
) -> None:
    system = await start_drifting_system(
        make_system, nats_url=nats_url, database_url=database_url, backoff_max_s=BACKOFF_MAX_S
    )
    await system.wait_progress()
    assert system.sim is not None
    chaos_id, vos = min(system.instances), system.sim.instances[0]
    healthy_id, healthy = max(system.instances), system.sim.instances[1]
    assert system.instances[chaos_id] == vos.url and system.instances[healthy_id] == healthy.url
    for kind, name, fields, _ in ODD_GATEWAYS:
        await system.sim_post(healthy.url, f"/_sim/gateways/{kind}", {"name": name, "online": True, **fields})
    routes = routes_for(sorted(system.instances))
    async with ApiLoad(system.api_url, READ_KEY, routes, timeout_s=API_ANSWER_LIMIT_S) as load:
        for mode, kind in FAULT_KINDS.items():
            since = await system.conn.fetchval("SELECT now()")
            await system.sim_post(vos.url, "/_sim/faults", {"api": "*", "mode": mode})
            await poll_until(
                lambda kind=kind, since=since: failure_recorded(system, chaos_id, kind, since),  # type: ignore[misc]
                BACKOFF_MAX_S + 15,
                f"a {kind} failure recorded for fault mode {mode}",
            )
        await system.sim_post(vos.url, "/_sim/faults", {"api": "*", "mode": "none"})
        timeout_ms = VOS_TIMEOUT_S * 1000
        await system.sim_post(vos.url, "/_sim/faults", {"api": "*", "latency_ms": [0, timeout_ms]})
        await system.wait_progress(timeout_s=BACKOFF_MAX_S + 20)  # answers slower than usual, still in time
        await system.sim_post(vos.url, "/_sim/faults", {"api": "*", "latency_ms": None})

        await vos.stop()
        await asyncio.sleep(SETTLE_S)
        first, started = await connect_failures(system), time.monotonic()
        await asyncio.sleep(DOWN_S - SETTLE_S)
        rate = (await connect_failures(system) - first) / (time.monotonic() - started)
        await vos.start()
        await system.wait_progress(timeout_s=BACKOFF_MAX_S + 20)
    print(f"calls to the down VOS: {rate:.2f}/s (healthy: {NORMAL_CALLS_PER_S:.1f}/s)")
    assert rate <= NORMAL_CALLS_PER_S * 0.4, f"{rate:.2f} calls/s to a VOS that is down: no backoff"
    report = await system.final_checks(load.records)
    print(report.summary())
    assert set(FAULT_KINDS.values()) | {"connect"} <= set(report.results.error_kinds)
    assert report.api is not None and report.api.sources["stale"] > 0, "stale-if-error never served"
    async with httpx.AsyncClient(base_url=system.api_url, headers=READ, timeout=10) as client:
        for kind, name, _, expected in ODD_GATEWAYS:
            response = await client.get(
                f"/api/v1/instances/{healthy_id}/gateways/{kind}/{quote(name, safe='')}"
            )
            assert response.status_code == 200, (name, response.text)
            gateway = response.json()
            assert gateway["gateway_name"] == name  # online flags: I2 compared them with VOS
            assert {k: gateway[k] for k in expected} == expected, name
