"""The cached VOS proxy: in-process cache → database row → on-demand fetch through the pollers,
with stale-if-error, stale-while-revalidate (RFC 5861: inside the API's grace window after
`expires_at` the stored reply is served at once while one background fetch refreshes it) and one
shared fetch per key for concurrent misses."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, Text, func, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncEngine

from vosync.api.domain.proxy.schemas import DataSource
from vosync.api.lib.directory import CachedInstances, InstanceInfo
from vosync.api.lib.errors import database_unavailable
from vosync.api.lib.fetcher import Fetcher, FetchFailure, PollerAnswer
from vosync.api.lib.hot_cache import CachedReply, CacheKey, HotCache
from vosync.api.lib.jsonutil import dumps
from vosync.api.lib.metrics import ApiMetrics
from vosync.api.lib.vos_request import params_key, resolve_spec
from vosync.shared.cache_key import cache_key, normalise_params
from vosync.shared.catalogue import ApiSpec, Catalogue
from vosync.shared.db.models import VosDataCache
from vosync.shared.messages import FetchReason, FetchRequest
from vosync.shared.singleflight import SingleFlight

log = logging.getLogger(__name__)
_C = cast(Table, VosDataCache.__table__)
_MAX_REMEMBERED_FAILURES = 10_000


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a proxy read found: data with its source, or the error to answer with."""

    source: DataSource | None
    reply: CachedReply | None
    error: str | None = None
    status: int = 200
    extra: dict[str, Any] | None = None
    revalidating: bool = False  # served stale inside the grace window; a background fetch runs


@dataclass(frozen=True, slots=True)
class _StoredRow:
    data: bytes | None
    synced_at: datetime | None
    expires_at: datetime | None
    is_valid: bool

    def fresh(self, now: datetime) -> bool:
        return (
            self.is_valid
            and self.data is not None
            and self.synced_at is not None
            and self.expires_at is not None
            and self.expires_at > now
        )

    def in_grace(self, now: datetime, grace_s: float) -> bool:
        """Expired, but by less than the stale-while-revalidate window: servable at once."""
        return (
            grace_s > 0
            and self.is_valid
            and self.data is not None
            and self.expires_at is not None
            and self.expires_at + timedelta(seconds=grace_s) > now
        )


class ProxyService:
    def __init__(
        self,
        *,
        catalogue: Catalogue,
        engine: AsyncEngine,
        hot: HotCache,
        directory: CachedInstances,
        fetcher: Fetcher,
        metrics: ApiMetrics,
        failure_backoff_s: float,
        refresh_cooldown_s: float = 0.0,
        grace_s: Callable[[str], float] = lambda _api_name: 0.0,
        read_touch_s: float = 0.0,
    ) -> None:
        self._catalogue = catalogue
        self._engine = engine
        self._hot = hot
        self._directory = directory
        self._fetcher = fetcher
        self._metrics = metrics
        self._failure_backoff_s = failure_backoff_s
        # Forced refreshes debounced per key (Home Assistant's debouncer as the model): within the
        # cooldown a refresh shares the last forced fetch's answer, so a client hammering
        # `refresh=true` reaches VOS at most once per cooldown.
        self._refresh_cooldown_s = refresh_cooldown_s
        self._refreshed: OrderedDict[CacheKey, tuple[float, Resolved]] = OrderedDict()
        self._grace_s = grace_s  # api name → stale-while-revalidate seconds
        # A stored reply served without a successful fetch (stale, or inside the grace window) is
        # marked read (last_read_at) at most once per key per read_touch_s, so that the writer's
        # cleanup keeps it; a fresh row is kept by its expires_at, a fetched one by last_attempt_at.
        self._read_touch_s = read_touch_s
        self._touched: OrderedDict[CacheKey, float] = OrderedDict()
        # The cleanup never deletes the scheduled (unfiltered) keys' rows: no need to mark them.
        self._never_deleted = {(spec.path, cache_key(spec.path, {})) for spec in catalogue.scheduled()}
        self._revalidating: set[CacheKey] = set()
        self._background: set[asyncio.Task[None]] = set()  # referenced, so none is collected mid-run
        self._flights: SingleFlight[tuple[CacheKey, bool], Resolved] = SingleFlight()
        self._count_coalesced = metrics.count_coalesced
        self._specs: dict[str, ApiSpec] = {}  # known, read-only names only (bounded by the catalogue)
        self._empty_keys = _EmptyParamKeys()
        self._database_failing = False
        # Keys whose last fetch failed, until when: readers get stale data (or the error) at once
        # instead of each waiting for another failing fetch.
        self._failed: OrderedDict[CacheKey, tuple[float, PollerAnswer]] = OrderedDict()

    def fresh_hit(self, instance_id: int, api_name: str) -> tuple[InstanceInfo, CachedReply] | None:
        """What `read(instance_id, api_name, {}, False)` answers from memory with no await, or None
        (a name not yet resolved, an instance not in the directory, a miss, a reply past expires_at):
        the hot-read path's question; None sends the request the long way."""
        spec = self._specs.get(api_name)
        info = self._directory.cached(instance_id)
        if spec is None or info is None:
            return None
        now_ts = time.time()
        reply = self._hot.get((instance_id, spec.path, self._empty_keys[spec.path]), now_ts)
        if reply is None or reply.expires_ts <= now_ts:
            return None
        self._metrics.hot_cache["hit"] += 1
        return info, reply

    async def read(
        self, instance_id: int, api_name: str, params: dict[str, Any], refresh: bool
    ) -> tuple[InstanceInfo, Resolved]:
        spec = self._specs.get(api_name)
        if spec is None:
            spec = self._specs[api_name] = resolve_spec(self._catalogue, api_name)  # raises for bad names
        info = self._directory.cached(instance_id) or await self._directory.require(instance_id)
        # Once, before keying and forwarding: `{"names": []}` is `{}` (VOS would answer nothing).
        params = normalise_params(spec.name, params)
        # Most reads send no params: their key is computed once per API.
        param_key = params_key(spec.path, params) if params else self._empty_keys[spec.path]
        key: CacheKey = (instance_id, spec.path, param_key)
        if not refresh:
            now_ts = time.time()
            reply = self._hot.get(key, now_ts)
            if reply is not None:
                if reply.expires_ts > now_ts:
                    self._metrics.hot_cache["hit"] += 1
                    return info, Resolved("database", reply)
                # Kept past expires_at only for the grace window: answer now, refresh behind.
                self._metrics.hot_cache["stale"] += 1
                return info, self._serve_in_grace(spec, key, params, reply)
            self._metrics.hot_cache["miss"] += 1
        else:
            recent = self._refreshed.get(key)
            if recent is not None and recent[0] > time.monotonic():
                self._count_coalesced()
                return info, recent[1]
        resolved, joined = await self._flights.do(
            (key, refresh), lambda: self._resolve(spec, key, params, refresh)
        )
        if joined:
            self._count_coalesced()
        elif refresh and self._refresh_cooldown_s > 0:
            self._remember_refresh(key, resolved)
        return info, resolved

    def _remember_refresh(self, key: CacheKey, resolved: Resolved) -> None:
        self._refreshed[key] = (time.monotonic() + self._refresh_cooldown_s, resolved)
        self._refreshed.move_to_end(key)
        while len(self._refreshed) > _MAX_REMEMBERED_FAILURES:
            self._refreshed.popitem(last=False)

    def count_reply(self, source: DataSource | None) -> None:
        if source is not None:
            self._metrics.proxy_replies[source] += 1

    def forget_failures(self, instance_id: int, cache_keys: set[str]) -> None:
        """New data arrived for these keys: the next reader may fetch again."""
        for key in [k for k in self._failed if k[0] == instance_id and k[2] in cache_keys]:
            del self._failed[key]

    async def stop(self) -> None:
        """Cancel the background revalidations still running (the api is shutting down)."""
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)

    def _serve_in_grace(
        self, spec: ApiSpec, key: CacheKey, params: dict[str, Any], reply: CachedReply
    ) -> Resolved:
        """An expired reply inside its grace window: served now, refreshed behind the reader."""
        self._touch(key)
        failed = self._failed.get(key)
        if failed is not None and failed[0] > time.monotonic():
            # The last fetch failed moments ago: no new one yet, say why the data is old.
            return Resolved("stale", reply, error=failed[1].error)
        self._revalidate(spec, key, params)
        # "database", not "stale": inside the window the stored row is still what the operator's
        # policy serves; "stale" keeps meaning "VOS failed, here is the last good data" (with the error).
        return Resolved("database", reply, revalidating=True)

    def _revalidate(self, spec: ApiSpec, key: CacheKey, params: dict[str, Any]) -> None:
        """Start the one background refresh of `key` unless one already runs (here, or as a
        refresh=true read, which shares the same flight)."""
        if key in self._revalidating or self._flights.in_flight((key, True)):
            return
        self._revalidating.add(key)
        task = asyncio.create_task(self._background_fetch(spec, key, params))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _background_fetch(self, spec: ApiSpec, key: CacheKey, params: dict[str, Any]) -> None:
        try:
            # The refresh=true flight: a forced read arriving meanwhile waits for this same fetch.
            _resolved, joined = await self._flights.do(
                (key, True), lambda: self._resolve(spec, key, params, True)
            )
            if joined:
                self._count_coalesced()
        except Exception as exc:  # nobody awaits this task: log instead of losing the error
            log.warning("background revalidation failed", extra={"api_path": key[1], "error": repr(exc)})
        finally:
            self._revalidating.discard(key)

    async def _resolve(self, spec: ApiSpec, key: CacheKey, params: dict[str, Any], refresh: bool) -> Resolved:
        generation = self._hot.generation(key[0])
        grace_s = self._grace_s(spec.name)
        row: _StoredRow | None = None
        database_ok = True
        if not refresh:
            row, database_ok = await self._read_row(key)
            now = datetime.now(UTC)
            if row is not None and row.fresh(now):
                reply = _reply(key, row)
                self._hot.put(reply, generation, grace_s)
                return Resolved("database", reply)
            failed = self._failed.get(key)
            if failed is not None and failed[0] > time.monotonic():
                return self._fallback(key, row, failed[1], database_ok)
            if row is not None and row.in_grace(now, grace_s):
                reply = _reply(key, row)
                self._hot.put(reply, generation, grace_s)  # the next readers need no database
                return self._serve_in_grace(spec, key, params, reply)

        request = FetchRequest(
            instance_id=key[0], api_name=spec.name, params=params, reason=FetchReason.ON_DEMAND
        )
        outcome = await self._fetcher.fetch(request)
        self._metrics.fetches[_outcome_label(outcome)] += 1
        if outcome.ok and outcome.result is not None:
            self._failed.pop(key, None)
            fetched_at = outcome.result.fetched_at
            reply = CachedReply(
                instance_id=key[0],
                api_path=key[1],
                cache_key=key[2],
                data=dumps(outcome.result.response or {}),
                synced_at=fetched_at,
                expires_at=fetched_at + timedelta(seconds=spec.ttl_s),
                compact=True,
            )
            self._hot.put(reply, generation, grace_s)
            return Resolved("vos_api", reply)

        self._remember_failure(key, outcome)
        if refresh:
            row, database_ok = await self._read_row(key)
        return self._fallback(key, row, outcome, database_ok)

    def _fallback(
        self, key: CacheKey, row: _StoredRow | None, outcome: PollerAnswer, database_ok: bool
    ) -> Resolved:
        if row is not None and row.data is not None:
            self._touch(key)
            return Resolved("stale", _reply(key, row), error=outcome.error)
        if not database_ok:
            return Resolved(
                None, None, status=503, error=f"database unavailable and the fetch failed: {outcome.error}"
            )
        if outcome.failure is FetchFailure.REFUSED:
            return Resolved(None, None, status=outcome.refusal_status or 503, error=outcome.message)
        if outcome.failure is FetchFailure.UNAVAILABLE:
            return Resolved(
                None, None, status=503, error=f"cannot reach VOS and nothing is cached: {outcome.message}"
            )
        result = outcome.result
        return Resolved(
            None,
            None,
            status=502,
            error=f"VOS answered with an error and nothing is cached: {outcome.error}",
            extra={
                "error_kind": outcome.error_kind,
                "ret_code": result.ret_code if result is not None else None,
            },
        )

    def _remember_failure(self, key: CacheKey, outcome: PollerAnswer) -> None:
        if self._failure_backoff_s <= 0:
            return
        self._failed[key] = (time.monotonic() + self._failure_backoff_s, outcome)
        self._failed.move_to_end(key)
        while len(self._failed) > _MAX_REMEMBERED_FAILURES:
            self._failed.popitem(last=False)

    def _touch(self, key: CacheKey) -> None:
        """Mark the row read, in the background, unless this process did within read_touch_s."""
        if self._read_touch_s <= 0 or (key[1], key[2]) in self._never_deleted:
            return
        now = time.monotonic()
        last = self._touched.get(key)
        if last is not None and now - last < self._read_touch_s:
            return
        self._touched[key] = now
        self._touched.move_to_end(key)
        while len(self._touched) > _MAX_REMEMBERED_FAILURES:
            self._touched.popitem(last=False)
        task = asyncio.create_task(self._mark_read(key))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _mark_read(self, key: CacheKey) -> None:
        # Another api process may have marked it already: then nothing is written.
        recent = func.now() - timedelta(seconds=self._read_touch_s)
        stmt = (
            update(_C)
            .where(_C.c.vos_instance_id == key[0], _C.c.api_path == key[1], _C.c.cache_key == key[2])
            .where(or_(_C.c.last_read_at.is_(None), _C.c.last_read_at < recent))
            .values(last_read_at=func.now())
        )
        try:
            async with self._engine.begin() as conn:
                await conn.execute(stmt)
        except Exception as exc:  # the database away: the next touch interval tries again
            log.debug("cache row not marked read", extra={"api_path": key[1], "error": repr(exc)})

    async def _read_row(self, key: CacheKey) -> tuple[_StoredRow | None, bool]:
        """The stored row (or None) and whether the database answered: with PostgreSQL away the
        proxy still serves its in-process cache and fresh fetches, it just has no stale fallback."""
        try:
            row = await self._load_row(key)
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            if not self._database_failing:  # one line per outage, not per request
                log.warning("database unavailable; proxy serves fetches only", extra={"error": repr(exc)})
            self._database_failing = True
            return None, False
        if self._database_failing:
            log.info("database available again")
            self._database_failing = False
        return row, True

    async def _load_row(self, key: CacheKey) -> _StoredRow | None:
        stmt = select(
            sql_cast(_C.c.response_data, Text).label("data"), _C.c.synced_at, _C.c.expires_at, _C.c.is_valid
        ).where(_C.c.vos_instance_id == key[0], _C.c.api_path == key[1], _C.c.cache_key == key[2])
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            return None
        data = row.data.encode() if row.data is not None and row.data != "null" else None
        return _StoredRow(data, row.synced_at, row.expires_at, bool(row.is_valid))


class _EmptyParamKeys(dict[str, str]):
    """api_path → cache_key of `{}` params, computed on first use."""

    def __missing__(self, api_path: str) -> str:
        key = self[api_path] = cache_key(api_path, {})
        return key


def _reply(key: CacheKey, row: _StoredRow) -> CachedReply:
    assert row.data is not None
    return CachedReply(
        instance_id=key[0],
        api_path=key[1],
        cache_key=key[2],
        data=row.data,
        synced_at=row.synced_at,
        expires_at=row.expires_at,
    )


def _outcome_label(outcome: PollerAnswer) -> str:
    if outcome.ok:
        return "ok"
    return outcome.failure.value if outcome.failure is not None else "vos_error"
