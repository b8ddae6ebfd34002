"""Session-wide real servers for the suite: NATS with JetStream and PostgreSQL.

Embedded servers on free loopback ports by default (never the machine's 4222/5432), or the servers
named by VOSYNC_TEST_NATS_URL / VOSYNC_TEST_DATABASE_URL. Each test gets empty tables and an empty
JetStream account.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import nats
import pytest

from tests.support.postgres import execute, plain_pg_url
from vosync.deploy.embedded import EmbeddedNats, EmbeddedPostgres
from vosync.shared.db.migrate import upgrade
from vosync.shared.db.models import TABLES_IN_TRUNCATE_ORDER
from vosync.shared.settings import Settings

pytest_plugins = ["tests.fixtures.sim", "tests.fixtures.services", "tests.fixtures.stack"]


@pytest.fixture(scope="session")
def infra_dir() -> Iterator[Path]:
    # Under /tmp and world-traversable: as root, PostgreSQL runs as another user that must reach it.
    path = Path(tempfile.mkdtemp(prefix="vosync-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def nats_server_url(infra_dir: Path) -> Iterator[str]:
    if url := os.environ.get("VOSYNC_TEST_NATS_URL"):
        yield url
        return
    with EmbeddedNats(infra_dir / "nats") as server:
        yield server.url


@pytest.fixture(scope="session")
def embedded_pg(infra_dir: Path) -> Iterator[EmbeddedPostgres | None]:
    if os.environ.get("VOSYNC_TEST_DATABASE_URL"):
        yield None
        return
    with EmbeddedPostgres(infra_dir / "pg", durable=False) as server:
        yield server


@pytest.fixture(scope="session")
def pg_server_url(embedded_pg: EmbeddedPostgres | None) -> str:
    url = os.environ.get("VOSYNC_TEST_DATABASE_URL") or (embedded_pg.url() if embedded_pg else "")
    url = Settings(database_url=url).require_database_url()
    asyncio.run(upgrade(url))
    return url


@pytest.fixture
async def database_url(pg_server_url: str) -> str:
    """The migrated test database with every table emptied."""
    await execute(pg_server_url, f"TRUNCATE {', '.join(TABLES_IN_TRUNCATE_ORDER)} RESTART IDENTITY CASCADE")
    return pg_server_url


@pytest.fixture
async def nats_url(nats_server_url: str) -> str:
    """The test NATS server with no streams or KV buckets left from an earlier test."""
    nc = await nats.connect(nats_server_url)
    try:
        js = nc.jetstream()
        for info in await js.streams_info():
            if info.config.name:
                await js.delete_stream(info.config.name)
    finally:
        await nc.close()
    return nats_server_url


@pytest.fixture
def make_settings(nats_url: str, database_url: str) -> Callable[..., Settings]:
    """Settings pointing at the test servers; keyword overrides for the rest."""

    def _make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"nats_url": nats_url, "database_url": database_url, "log_format": "console"}
        values.update(overrides)
        return Settings(**values)

    return _make


@pytest.fixture
async def pg_conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(plain_pg_url(database_url))
    try:
        yield conn
    finally:
        await conn.close()
