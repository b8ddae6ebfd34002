"""NATS and PostgreSQL restart while results flow: the services pause, reconnect and carry on.

Each test runs its own server (so stopping it disturbs no other test) with durable storage, the
whole system on it under load, stops the server for a few seconds in the middle of the flow and
starts it again on the same port. The scenario ends with every invariant.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.conftest import MakeSystem
from tests.faults.drifting_system import start_drifting_system
from tests.faults.load import ApiLoad, routes_for
from tests.faults.system import API_ANSWER_LIMIT_S, READ_KEY
from tests.support.private_postgres import private_postgres
from vosync.deploy.embedded import EmbeddedNats, EmbeddedPostgres
from vosync.shared.db.migrate import upgrade

pytestmark = pytest.mark.slow

OUTAGE_S = 4.0


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(tmp_path / "nats")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_pg() -> Iterator[EmbeddedPostgres]:
    """Durable: the data must survive the restart in the middle of the test."""
    with private_postgres("vosync-faults-pg-", durable=True) as server:
        yield server


async def test_nats_restart_while_results_flow(
    private_nats: EmbeddedNats, make_system: MakeSystem, database_url: str
) -> None:
    system = await start_drifting_system(make_system, nats_url=private_nats.url, database_url=database_url)
    await system.wait_progress()
    routes = routes_for(sorted(system.instances))
    async with ApiLoad(system.api_url, READ_KEY, routes, timeout_s=API_ANSWER_LIMIT_S) as load:
        before = await system.js.stream_info("VOS_RESULTS")
        await asyncio.to_thread(private_nats.stop)
        await asyncio.sleep(OUTAGE_S)
        await asyncio.to_thread(private_nats.start)
        await system.wait_progress(timeout_s=45)
    after = await system.js.stream_info("VOS_RESULTS")
    assert after.state.last_seq > before.state.last_seq
    for name in ("poller", "writer", "api"):
        assert system.procs[name].alive(), f"{name} died:\n{system.procs[name].log_tail()}"
    report = await system.final_checks(load.records)
    print(report.summary())
    assert report.results.applied > 50


async def test_postgres_restart_while_results_flow(
    private_pg: EmbeddedPostgres, make_system: MakeSystem, nats_url: str
) -> None:
    await upgrade(private_pg.url())
    system = await start_drifting_system(make_system, nats_url=nats_url, database_url=private_pg.url())
    await system.wait_progress()
    routes = routes_for(sorted(system.instances))
    async with ApiLoad(system.api_url, READ_KEY, routes, timeout_s=API_ANSWER_LIMIT_S) as load:
        await asyncio.to_thread(private_pg.stop)
        await asyncio.sleep(OUTAGE_S)
        await asyncio.to_thread(private_pg.start)
        await system.reconnect_db()
        await system.wait_progress(timeout_s=45)
    for name in ("poller", "writer", "api"):
        assert system.procs[name].alive(), f"{name} died:\n{system.procs[name].log_tail()}"
    report = await system.final_checks(load.records)
    print(report.summary())
    assert report.results.applied > 50
    assert report.api is not None and report.api.statuses[503] > 0, "the outage was never seen by the api"
