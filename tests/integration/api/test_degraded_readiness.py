"""Issue #17 item 6: with PostgreSQL stopped the api stays ready while it serves its in-process
cache, and its readiness body and /metrics say the database is degraded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import asyncpg
import httpx
import pytest

from tests.fixtures.api import RunApi
from tests.integration.api.conftest import ADMIN, ADMIN_KEY, READ_KEY, insert_cache_row, insert_instance
from tests.support.postgres import plain_pg_url
from tests.support.private_postgres import private_postgres
from vosync.deploy.embedded import EmbeddedPostgres
from vosync.shared.db.migrate import upgrade
from vosync.shared.settings import Settings

MAPPING = {"infoGatewayMappings": [{"name": "gw-1"}]}


@pytest.fixture
def private_pg() -> Iterator[EmbeddedPostgres]:
    with private_postgres("vosync-degraded-pg-", durable=False) as server:
        yield server


async def test_ready_while_postgres_is_stopped_and_hot_cache_serves(
    private_pg: EmbeddedPostgres, make_settings: Callable[..., Settings], run_api: RunApi
) -> None:
    url = Settings(database_url=private_pg.url()).require_database_url()
    await upgrade(url)
    conn = await asyncpg.connect(plain_pg_url(url))
    try:
        iid = await insert_instance(conn, "vos-a")
        await insert_cache_row(conn, iid, "GetGatewayMapping", MAPPING, age_s=1, ttl_s=600)
    finally:
        await conn.close()
    service = await run_api(
        make_settings(database_url=url, auth="required", api_keys={ADMIN_KEY: "admin", READ_KEY: "read"})
    )
    path = f"/api/v1/vos-api/instances/{iid}/GetGatewayMapping"
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as api:
        warm = await api.post(path, json={}, headers=ADMIN)  # into the in-process cache
        assert warm.status_code == 200 and warm.json()["data"] == MAPPING
        await asyncio.to_thread(private_pg.stop)

        ready = await api.get("/health/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json() == {
            "status": "degraded",
            "checks": {"database": False, "nats": True},
            "degraded": ["database"],
        }
        served = await api.post(path, json={}, headers=ADMIN)
        assert served.status_code == 200 and served.json()["data"] == MAPPING
        metrics = (await api.get("/metrics")).text
        assert 'vosync_api_dependency_up{dependency="database"} 0.0' in metrics
        assert 'vosync_api_dependency_up{dependency="nats"} 1.0' in metrics
        assert (await api.get("/health/live")).status_code == 200
