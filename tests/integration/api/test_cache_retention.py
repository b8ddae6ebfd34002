"""A cache row the api serves without a fetch is marked read, at most once per touch interval, and the
writer's cleanup keeps it (the rest of the cleanup: tests/integration/writer/test_cleanup.py)."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
import httpx

from tests.integration.api.conftest import READ, insert_cache_row, insert_instance
from tests.support.waiting import wait_for
from vosync.shared.settings import Settings
from vosync.writer.cleanup import Cleanup
from vosync.writer.cleanup_plan import RetentionPolicy, Table
from vosync.writer.db import create_pool
from vosync.writer.metrics import WriterMetrics

CUSTOMERS = {"retCode": 0, "infoCustomers": [{"account": "a1"}]}
PARAMS = {"accounts": ["a1"]}
URL = "/api/v1/vos-api/instances/{}/GetCustomer"


async def last_read(conn: asyncpg.Connection, key: str) -> object:
    return await conn.fetchval("SELECT last_read_at FROM vos_data_cache WHERE cache_key = $1", key)


async def test_a_row_served_stale_is_marked_read_once_and_the_cleanup_keeps_it(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection, make_settings: Callable[..., Settings]
) -> None:
    iid = await insert_instance(pg_conn)
    fresh = await insert_cache_row(pg_conn, iid, "GetCustomer", CUSTOMERS, params={"accounts": ["f"]})
    stale = await insert_cache_row(
        pg_conn, iid, "GetCustomer", CUSTOMERS, params=PARAMS, age_s=900, ttl_s=300
    )

    scheduled = await insert_cache_row(pg_conn, iid, "GetSuite", {"retCode": 0}, age_s=900, ttl_s=300)
    suites = (await api.post(f"/api/v1/vos-api/instances/{iid}/GetSuite", json={}, headers=READ)).json()
    assert suites["data_source"] == "stale"
    served = (await api.post(URL.format(iid), json={"accounts": ["f"]}, headers=READ)).json()
    assert served["data_source"] == "database"
    for _ in range(3):  # no poller: the stored reply, stale
        body = (await api.post(URL.format(iid), json=PARAMS, headers=READ)).json()
        assert body["data_source"] == "stale" and body["data"] == CUSTOMERS
    marked = await wait_for(lambda: last_read(pg_conn, stale), what="the stale row marked read")
    body = (await api.post(URL.format(iid), json=PARAMS, headers=READ)).json()
    assert body["data_source"] == "stale"
    assert await last_read(pg_conn, stale) == marked  # one write per touch interval, not per read
    assert await last_read(pg_conn, fresh) is None  # a fresh row is kept by expires_at: no write
    assert await last_read(pg_conn, scheduled) is None  # never deleted anyway: no write

    # Fetched and fresh long ago, read since: the cleanup keeps it; once the read is old too, not.
    await pg_conn.execute(
        "UPDATE vos_data_cache SET last_attempt_at = now() - interval '8 days',"
        " expires_at = now() - interval '8 days'"
    )
    settings = make_settings()
    pool = await create_pool(settings)
    try:
        cleanup = Cleanup(pool, RetentionPolicy.from_settings(settings), WriterMetrics(), 3600)
        assert await cleanup.run_once() == {Table.CACHE: 1}  # the fresh-then-unread row
        assert await last_read(pg_conn, stale) == marked
        await pg_conn.execute("UPDATE vos_data_cache SET last_read_at = now() - interval '8 days'")
        assert await cleanup.run_once() == {Table.CACHE: 1}
    finally:
        await pool.close()
    assert await pg_conn.fetchval("SELECT cache_key FROM vos_data_cache") == scheduled  # kept, however old
