"""Fixtures of the fault suite: `make_system(...)` builds a FaultSystem (simulator in this process,
services as real processes) on the given NATS and PostgreSQL, and tears every process down after
the test, printing the tail of each service's log (pytest shows it when the test failed)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import nats
import pytest

from tests.faults.api_stack import ApiUnderTest, start_api_under_test
from tests.faults.system import FaultSystem, register_instances, service_env, settings_of
from tests.fixtures.sim import MakeVosSim
from tests.support.postgres import plain_pg_url
from vosync.shared import bus

MakeSystem = Callable[..., Awaitable[FaultSystem]]


@pytest.fixture
async def make_system(tmp_path: Path, make_vos_sim: MakeVosSim) -> AsyncIterator[MakeSystem]:
    """`system = await make_system(nats_url=..., database_url=..., sim_instances=1, gateways=20,
    drift_s=0.5, drift_fraction=0.1, **setting_overrides)`; then `system.add(...)`/`start(...)`."""
    systems: list[FaultSystem] = []

    async def make(
        *,
        nats_url: str,
        database_url: str,
        sim_instances: int = 1,
        gateways: int = 20,
        drift_s: float = 0.0,
        drift_fraction: float = 0.0,
        **overrides: Any,
    ) -> FaultSystem:
        env = service_env(nats_url, database_url, **overrides)
        settings = settings_of(env)
        nc = await nats.connect(nats_url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
        conn = await asyncpg.connect(plain_pg_url(database_url))
        js = nc.jetstream()
        await bus.ensure_streams(js, settings)
        sim = None
        instances: dict[int, str] = {}
        if sim_instances:
            sim = await make_vos_sim(
                instances=sim_instances,
                gateways=gateways,
                change_interval_s=drift_s,
                change_fraction=drift_fraction,
            )
            instances = await register_instances(conn, js, settings, sim.urls)
        system = FaultSystem(tmp_path, env, nc, conn, sim, instances)
        systems.append(system)
        return system

    yield make
    for system in systems:
        await system.stop_all()
        print(system.logs(40))
        with contextlib.suppress(Exception):
            await system.nc.close()
        with contextlib.suppress(Exception):
            await system.conn.close(timeout=2)


@pytest.fixture(scope="package")
def api_under_test(tmp_path_factory: pytest.TempPathFactory, pg_server_url: str) -> Iterator[ApiUnderTest]:
    """One api process (auth required, read and admin keys) shared by the bad-input and security tests."""
    yield from start_api_under_test(tmp_path_factory.mktemp("api-under-test"), pg_server_url)
