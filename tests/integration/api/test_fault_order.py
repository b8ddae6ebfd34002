"""A request wrong in several ways is answered for one of its faults, in the order
docs/reliability.md gives: the key first; then the path's instance before the query on the routes
that take the instance as a dependency; the gateway routes (their own lookup) the query first."""

from __future__ import annotations

import asyncpg
import httpx

from tests.integration.api.conftest import READ, insert_instance


async def test_the_key_is_answered_before_anything_else(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection
) -> None:
    unknown = await insert_instance(pg_conn) + 999
    for path in (f"/api/v1/instances/{unknown}/phones", f"/api/v1/instances/{unknown}/gateways"):
        answer = await api.get(path, params={"limit": "0"})
        assert answer.status_code == 401, (path, answer.text)


async def test_an_unknown_instance_before_a_bad_query_on_the_dependency_routes(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection
) -> None:
    unknown = await insert_instance(pg_conn) + 999
    answer = await api.get(f"/api/v1/instances/{unknown}/phones", params={"limit": "0"}, headers=READ)
    assert answer.status_code == 404 and f"unknown instance {unknown}" in answer.json()["detail"]


async def test_a_bad_query_before_an_unknown_instance_on_the_gateway_routes(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection
) -> None:
    unknown = await insert_instance(pg_conn) + 999
    answer = await api.get(f"/api/v1/instances/{unknown}/gateways", params={"limit": "0"}, headers=READ)
    assert answer.status_code == 400 and "limit" in answer.text
    # Each fault alone still gets its own answer.
    alone = await api.get(f"/api/v1/instances/{unknown}/gateways", headers=READ)
    assert alone.status_code == 404
