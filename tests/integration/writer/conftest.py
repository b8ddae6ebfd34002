"""Fixtures of the writer's integration tests (the servers come from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from tests.integration.writer.helpers import add_instance
from vosync.shared.settings import Settings
from vosync.writer.apply import BatchApplier
from vosync.writer.db import create_pool


@pytest.fixture
async def pool(make_settings: Callable[..., Settings]) -> AsyncIterator[asyncpg.Pool]:
    db_pool = await create_pool(make_settings())
    try:
        yield db_pool
    finally:
        await db_pool.close()


@pytest.fixture
async def applier(pool: asyncpg.Pool, make_settings: Callable[..., Settings]) -> BatchApplier:
    return BatchApplier(pool, make_settings().catalogue)


@pytest.fixture
async def instance(pg_conn: asyncpg.Connection) -> int:
    await add_instance(pg_conn, 1)
    return 1
