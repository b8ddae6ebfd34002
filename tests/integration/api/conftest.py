"""Fixtures of the api's integration tests: the app on real NATS + PostgreSQL, rows written
directly, and a test poller on the real bus that answers `vos.fetch.*` as configured."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from tests.fixtures.api import RunApi
from vosync.api.service import ApiService
from vosync.shared import bus
from vosync.shared.cache_key import cache_key
from vosync.shared.catalogue import API_PATH_PREFIX
from vosync.shared.codec import decode, encode
from vosync.shared.messages import CacheChanged, ErrorKind, FetchRequest, FetchResult
from vosync.shared.settings import Settings

ADMIN_KEY = "test-admin-key"
READ_KEY = "test-read-key"
ADMIN = {"X-API-Key": ADMIN_KEY}
READ = {"X-API-Key": READ_KEY}

# Query values every list endpoint refuses; an endpoint's own filters and sorts add theirs.
BAD_LIST_QUERIES: tuple[dict[str, str], ...] = (
    {"online": "yes-ish"},
    {"limit": "0"},
    {"limit": "1001"},
    {"limit": "ten"},
    {"offset": "-1"},
    {"q": "x" * 201},
    {"q": "a\x00b"},
)


@pytest.fixture(autouse=True)
def _log_everything(caplog: pytest.LogCaptureFixture) -> None:
    """Every log call of vosync builds its record (a bad `extra` key fails the test, not production)."""
    caplog.set_level(logging.DEBUG, logger="vosync")


@pytest.fixture
def api_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        auth="required",
        api_keys={ADMIN_KEY: "admin", READ_KEY: "read"},
        api_fetch_timeout_s=2.0,
        api_failure_backoff_s=0,
        # Fuzzing forces refreshes faster than a client may; the limiter has its own test.
        api_refresh_rate_per_minute=1_000_000,
    )


@pytest.fixture
async def api_service(api_settings: Settings, run_api: RunApi) -> ApiService:
    """The api served by uvicorn on a free port, in this test's event loop (so test peers on the
    bus answer while a request waits; litestar's test client would run the app in another thread)."""
    return await run_api(api_settings)


@pytest.fixture
async def api(api_service: ApiService) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api_service.url, timeout=30) as client:
        yield client


async def assert_each_query_is_400(
    api: httpx.AsyncClient, path: str, queries: Iterable[dict[str, str]]
) -> None:
    for params in queries:
        res = await api.get(path, params=params, headers=READ)
        assert res.status_code == 400, (params, res.text)
        assert res.json()["detail"]


async def insert_instance(
    conn: asyncpg.Connection, name: str = "vos-a", base_url: str = "http://127.0.0.1:9", enabled: bool = True
) -> int:
    instance_id: int = await conn.fetchval(
        "INSERT INTO vos_instances (name, base_url, enabled) VALUES ($1, $2, $3) RETURNING id",
        name,
        base_url,
        enabled,
    )
    return instance_id


async def insert_cache_row(
    conn: asyncpg.Connection,
    instance_id: int,
    api_name: str,
    response: dict[str, Any] | None,
    *,
    params: dict[str, Any] | None = None,
    age_s: float = 1.0,
    ttl_s: float = 300.0,
    is_valid: bool = True,
    error_message: str | None = None,
) -> str:
    """A vos_data_cache row as the writer would leave it; returns its cache_key."""
    path = API_PATH_PREFIX + api_name
    key = cache_key(path, params or {})
    synced = datetime.now(UTC) - timedelta(seconds=age_s)
    await conn.execute(
        """INSERT INTO vos_data_cache (vos_instance_id, api_path, api_name, cache_key, query_params,
               response_data, is_valid, synced_at, expires_at, last_attempt_at, error_message)
           VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8, $9, now(), $10)""",
        instance_id,
        path,
        api_name,
        key,
        json.dumps(params or {}),
        json.dumps(response) if response is not None else None,
        is_valid,
        synced if response is not None else None,
        synced + timedelta(seconds=ttl_s),
        error_message,
    )
    return key


def _answer_to(request: FetchRequest, **outcome: Any) -> FetchResult:
    """A FetchResult for `request`'s key, fetched now by the test poller, with `outcome`'s fields."""
    path = API_PATH_PREFIX + request.api_name
    return FetchResult(
        instance_id=request.instance_id,
        api_name=request.api_name,
        api_path=path,
        params=request.params,
        cache_key=cache_key(path, request.params),
        fetched_at=datetime.now(UTC),
        poller_id="test-poller",
        reason=request.reason,
        **outcome,
    )


def ok_result(request: FetchRequest, response: dict[str, Any]) -> FetchResult:
    return _answer_to(request, ok=True, ret_code=0, response=response, duration_ms=3.0)


def failed_result(
    request: FetchRequest, kind: ErrorKind, error: str, ret_code: int | None = None
) -> FetchResult:
    return _answer_to(request, ok=False, ret_code=ret_code, error=error, error_kind=kind)


async def note_cache_changed(settings: Settings, changed: CacheChanged) -> None:
    """What the writer does after a commit: the note on core NATS, which every api replica hears."""
    nc = await nats.connect(settings.require_nats_url())
    try:
        body, headers = encode(changed)
        await nc.publish(bus.cache_changed_subject(changed.instance_id), body, headers=headers or None)
        await nc.flush()
    finally:
        await nc.close()


Answer = Callable[[FetchRequest], FetchResult | tuple[str, int] | None]


@dataclass
class TestPoller:
    """Answers `vos.fetch.*` in queue group `pollers` like a poller: a FetchResult, a refusal
    (reason, status) as `Vosync-Error` headers, or nothing at all (None: the requester times out)."""

    nc: NatsClient
    answer: Answer
    delay_s: float = 0.0
    requests: list[FetchRequest] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def on_message(self, msg: Msg) -> None:
        task = asyncio.create_task(self._reply(msg))  # never block the subscription on one reply
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reply(self, msg: Msg) -> None:
        request = decode(FetchRequest, msg.data, msg.headers)
        self.requests.append(request)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        answer = self.answer(request)
        if answer is None:
            return
        if isinstance(answer, tuple):
            reason, status = answer
            headers = {bus.FETCH_ERROR_HEADER: reason, bus.FETCH_ERROR_STATUS_HEADER: str(status)}
            await self.nc.publish(msg.reply, b"", headers=headers)
            return
        body, result_headers = encode(answer)
        await self.nc.publish(msg.reply, body, headers=result_headers or None)


StartTestPoller = Callable[..., Awaitable[TestPoller]]


@pytest.fixture
async def start_test_poller(nats_url: str) -> AsyncIterator[StartTestPoller]:
    """`poller = await start_test_poller(answer, delay_s=0)`: a test peer on the real bus."""
    nc = await nats.connect(nats_url)

    async def start(answer: Answer, delay_s: float = 0.0) -> TestPoller:
        poller = TestPoller(nc, answer, delay_s)
        await nc.subscribe(bus.FETCH_SUBJECTS, queue=bus.FETCH_QUEUE, cb=poller.on_message)
        await nc.flush()
        return poller

    try:
        yield start
    finally:
        await nc.close()
