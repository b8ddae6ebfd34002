"""SIGKILL each service in turn under load, then restart it: nothing is lost, nothing is doubled.

One system (2 simulated VOS instances with gateways flipping every half second, poller, writer and
api as processes, readers on the api the whole time). The poller, then the writer, then the api are
killed with SIGKILL, left dead for a moment while the others carry on, and started again. The
scenario ends with every invariant (tests/faults/invariants.py).
"""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.conftest import MakeSystem
from tests.faults.drifting_system import start_drifting_system
from tests.faults.invariants import consumer_idle
from tests.faults.load import ApiLoad, routes_for
from tests.faults.system import API_ANSWER_LIMIT_S, READ_KEY

pytestmark = pytest.mark.slow

OUTAGE_S = 1.5  # how long a killed service stays dead (the others run on meanwhile)


async def test_sigkill_poller_writer_api_in_turn_under_load(
    make_system: MakeSystem, nats_url: str, database_url: str
) -> None:
    system = await start_drifting_system(make_system, nats_url=nats_url, database_url=database_url)
    routes = routes_for(sorted(system.instances))
    async with ApiLoad(system.api_url, READ_KEY, routes, timeout_s=API_ANSWER_LIMIT_S) as load:
        for name in ("poller", "writer", "api"):
            await system.wait_progress()
            killed_at = await system.kill(name)
            await asyncio.sleep(OUTAGE_S)
            if name == "writer":
                assert not await consumer_idle(system.js), "results should wait for the dead writer"
            await system.restart(name, killed_at)
        await system.wait_progress()
    assert len(system.down) == 1
    report = await system.final_checks(load.records)
    print(report.summary())
    assert report.results.applied > 100 and report.events.events > 0
    assert report.api is not None and report.api.statuses[200] > 50
    codes = await system.stop_all()
    assert set(codes.values()) <= {0, None}, codes
