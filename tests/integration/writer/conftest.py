"""Fixtures of the writer's integration tests (the servers come from tests/conftest.py)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import asyncpg
import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from tests.integration.writer.helpers import add_instance
from vosync.shared import bus
from vosync.shared.settings import Settings
from vosync.writer.apply import BatchApplier
from vosync.writer.db import create_pool

if TYPE_CHECKING:
    from vosync.writer.service import WriterService

RunWriter = Callable[..., contextlib.AbstractAsyncContextManager["WriterService"]]


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NatsClient]:
    client = await nats.connect(nats_url)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def js(nc: NatsClient, make_settings: Callable[..., Settings]) -> JetStreamContext:
    """JetStream on the test NATS with the writer's durable consumer declared (as the writer does)."""
    context = nc.jetstream()
    await bus.ensure_writer_consumer(context, make_settings())
    return context


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
