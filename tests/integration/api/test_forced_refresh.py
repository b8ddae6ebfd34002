"""Issue #17 item 7: forced refreshes of one key are debounced; VOS is not called per request."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import httpx
import pytest

from tests.fixtures.api import RunApi
from tests.integration.api.conftest import (
    ADMIN,
    ADMIN_KEY,
    READ,
    READ_KEY,
    StartTestPoller,
    insert_instance,
    ok_result,
)
from vosync.shared.settings import Settings

SUITES = {"retCode": 0, "infoSuites": [{"name": "s1"}]}


async def test_twenty_forced_refreshes_in_two_seconds_reach_vos_at_most_twice(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection, start_test_poller: StartTestPoller
) -> None:
    iid = await insert_instance(pg_conn)
    poller = await start_test_poller(lambda req: ok_result(req, SUITES))
    statuses = []
    for _ in range(20):
        res = await api.post(f"/api/v1/vos-api/instances/{iid}/GetSuite?refresh=true", json={}, headers=READ)
        statuses.append(res.status_code)
        assert res.status_code < 500, res.text
        if res.status_code == 200:
            assert res.json()["data"] == SUITES
        await asyncio.sleep(0.1)
    assert statuses.count(200) >= 1
    assert len(poller.requests) <= 2, len(poller.requests)


async def test_twenty_syncs_in_two_seconds_reach_vos_at_most_twice_per_api(
    api: httpx.AsyncClient, pg_conn: asyncpg.Connection, start_test_poller: StartTestPoller
) -> None:
    iid = await insert_instance(pg_conn)
    poller = await start_test_poller(lambda req: ok_result(req, {"retCode": 0}))
    for _ in range(20):
        res = await api.post(f"/api/v1/instances/{iid}/sync", json={"apis": ["GetSuite"]}, headers=ADMIN)
        assert res.status_code < 500, res.text
        if res.status_code == 200:
            assert res.json()["results"][0]["ok"] is True
        await asyncio.sleep(0.1)
    assert len(poller.requests) <= 2, len(poller.requests)


ApiWithRefreshRate = Callable[[int], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def api_with_refresh_rate(
    make_settings: Callable[..., Settings], run_api: RunApi
) -> AsyncIterator[ApiWithRefreshRate]:
    """`api = await api_with_refresh_rate(3)`: a client of an api of its own that allows each client
    that many forced refreshes a minute (the shared `api` allows far more); closed after the test."""
    async with contextlib.AsyncExitStack() as clients:

        async def _start(per_minute: int) -> httpx.AsyncClient:
            service = await run_api(
                make_settings(
                    auth="required",
                    api_keys={ADMIN_KEY: "admin", READ_KEY: "read"},
                    api_refresh_rate_per_minute=per_minute,
                )
            )
            return await clients.enter_async_context(httpx.AsyncClient(base_url=service.url, timeout=30))

        yield _start


async def test_forced_refreshes_beyond_the_client_rate_are_429_with_retry_after(
    api_with_refresh_rate: ApiWithRefreshRate, pg_conn: asyncpg.Connection, start_test_poller: StartTestPoller
) -> None:
    api = await api_with_refresh_rate(3)
    iid = await insert_instance(pg_conn)
    await start_test_poller(lambda req: ok_result(req, SUITES))
    path = f"/api/v1/vos-api/instances/{iid}/GetSuite"
    answers = [await api.post(f"{path}?refresh=true", json={}, headers=READ) for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    refused = answers[-1]
    assert int(refused.headers["Retry-After"]) >= 1
    assert "too many forced refreshes" in refused.json()["detail"]
    plain = await api.post(path, json={}, headers=READ)  # plain reads are never limited
    assert plain.status_code == 200


async def test_the_429_answer_is_in_the_openapi_document_with_retry_after(
    api_with_refresh_rate: ApiWithRefreshRate, pg_conn: asyncpg.Connection, start_test_poller: StartTestPoller
) -> None:
    """The rate-limited operations (forced proxy reads and syncs) document the 429 the limiter
    answers, with its Retry-After header and the error body it really sends."""
    api = await api_with_refresh_rate(1)
    iid = await insert_instance(pg_conn)
    await start_test_poller(lambda req: ok_result(req, SUITES))
    schema = (await api.get("/schema/openapi.json")).json()
    path = f"/api/v1/vos-api/instances/{iid}/GetSuite?refresh=true"
    answers = [await api.post(path, json={}, headers=READ) for _ in range(2)]
    limited = {
        "/api/v1/vos-api/instances/{instance_id}/{api_name}": "post",
        "/api/v1/instances/{instance_id}/sync": "post",
    }
    for route, method in limited.items():
        responses = schema["paths"][route][method]["responses"]
        assert "429" in responses, route
        spec = responses["429"]
        assert spec["headers"]["Retry-After"]["schema"]["type"] == "integer", route
        assert spec["headers"]["Retry-After"]["required"] is True
        body_schema = spec["content"]["application/json"]["schema"]
        ref = body_schema["$ref"].rsplit("/", 1)[-1]
        fields = schema["components"]["schemas"][ref]
        assert set(fields["required"]) == {"status_code", "detail"}, route
    # What is documented is what is sent.
    assert [a.status_code for a in answers] == [200, 429]
    refused = answers[1]
    assert int(refused.headers["Retry-After"]) >= 1
    assert set(refused.json()) <= set(fields["properties"]) and refused.json()["status_code"] == 429
    # Operations the limiter never answers do not claim a 429.
    assert "429" not in schema["paths"]["/api/v1/instances/{instance_id}/gateways"]["get"]["responses"]
