"""A reader that keeps the api busy during a scenario and records every answer (invariant 4).

Workers cycle through the api's read routes (gateway lists, one gateway, summary, cache status,
cached proxy reads and forced refreshes) and record status, time and whether the body was the JSON
the route documents. Nothing here retries: a failed request is recorded as such.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections.abc import Sequence
from typing import Any

import httpx

from tests.faults.invariants import ApiRecord

DATA_SOURCES = frozenset({"database", "vos_api", "stale"})


def routes_for(instance_ids: Sequence[int]) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(method, path, json body) of the read routes, for every instance."""
    out: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "/api/v1/gateways/summary", None),
        ("GET", "/api/v1/instances", None),
    ]
    for i in instance_ids:
        out += [
            ("GET", f"/api/v1/instances/{i}/gateways?type=mapping&limit=50", None),
            ("GET", f"/api/v1/instances/{i}/gateways?online=true&limit=20&sort=-asr", None),
            ("GET", f"/api/v1/instances/{i}/gateways?q=a&type=routing", None),
            ("GET", f"/api/v1/instances/{i}/cache", None),
            ("POST", f"/api/v1/vos-api/instances/{i}/GetGatewayMappingOnline", {}),
            ("POST", f"/api/v1/vos-api/instances/{i}/GetGatewayRouting", {}),
            ("POST", f"/api/v1/vos-api/instances/{i}/GetSuite?refresh=true", {}),
            ("POST", f"/api/v1/vos-api/instances/{i}/GetFeeRateGroup", {}),
        ]
    return out


def judge(route: str, response: httpx.Response) -> tuple[str | None, str | None]:
    """(error, data_source): what is wrong with an answer's body, if anything."""
    try:
        body = response.json()
    except ValueError:
        return f"body is not JSON: {response.text[:80]!r}", None
    if response.status_code != 200:
        if not isinstance(body, dict) or not isinstance(body.get("detail"), str):
            return f"error body without a detail: {str(body)[:80]}", None
        return None, None
    if "/vos-api/" not in route:
        return None, None
    if not isinstance(body, dict) or body.get("success") is not True:
        return f"proxy 200 without success: {str(body)[:80]}", None
    source = body.get("data_source")
    if source not in DATA_SOURCES:
        return f"proxy 200 with data_source {source!r}", None
    if source == "stale" and not body.get("error"):
        return "a stale reply without the error that made it stale", source
    return None, source


class ApiLoad:
    """`async with ApiLoad(url, key, routes) as load:` … `load.records`."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        routes: list[tuple[str, str, dict[str, Any] | None]],
        *,
        workers: int = 2,
        pause_s: float = 0.05,
        timeout_s: float = 10.0,
        seed: int = 7,
    ) -> None:
        self.base_url = base_url
        self.headers = {"X-API-Key": api_key}
        self.routes = routes
        self.workers = workers
        self.pause_s = pause_s
        self.timeout_s = timeout_s
        self.records: list[ApiRecord] = []
        self._rng = random.Random(seed)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> ApiLoad:
        self._tasks = [asyncio.create_task(self._work(i)) for i in range(self.workers)]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _work(self, index: int) -> None:
        order = self.routes[index:] + self.routes[:index]
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        # The client's timeout is a backstop above the limit the invariant checks.
        timeout = httpx.Timeout(self.timeout_s + 5, connect=self.timeout_s)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=timeout, limits=limits) as client:
            for method, path, body in itertools.cycle(order):
                if self._stop.is_set():
                    return
                record = await self.one(client, method, path, body)
                self.records.append(record)
                # No answer (the api is down): look again a little later instead of spinning.
                pause = self.pause_s if record.status is not None else max(self.pause_s, 0.2)
                await asyncio.sleep(pause * (0.5 + self._rng.random()))

    async def one(
        self, client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None
    ) -> ApiRecord:
        route = f"{method} {path}"
        started = time.monotonic()
        try:
            response = await client.request(method, path, json=body, headers=self.headers)
        except httpx.TimeoutException as exc:
            return ApiRecord(route, started, time.monotonic() - started, None, f"timeout: {exc!r}")
        except httpx.HTTPError as exc:
            return ApiRecord(route, started, time.monotonic() - started, None, repr(exc))
        elapsed = time.monotonic() - started
        error, source = judge(route, response)
        return ApiRecord(route, started, elapsed, response.status_code, error, source)
