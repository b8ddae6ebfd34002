"""Fetch now: one FetchRequest(reason=sync) per API, in parallel, each outcome reported.

A successful result also refreshes this process's in-process cache; the poller publishes it to the
stream as usual, so the writer stores it like any other.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from vosync.api.domain.sync.schemas import SyncApiResult, SyncReply
from vosync.api.lib.directory import InstanceInfo
from vosync.api.lib.fetcher import Fetcher
from vosync.api.lib.hot_cache import CachedReply, HotCache
from vosync.api.lib.jsonutil import dumps
from vosync.api.lib.metrics import ApiMetrics
from vosync.api.lib.vos_request import params_key, resolve_spec
from vosync.shared.catalogue import ApiSpec, Catalogue
from vosync.shared.messages import FetchReason, FetchRequest

log = logging.getLogger(__name__)


class SyncService:
    def __init__(
        self,
        catalogue: Catalogue,
        fetcher: Fetcher,
        hot: HotCache,
        metrics: ApiMetrics,
        cooldown_s: float = 0.0,
    ) -> None:
        self._catalogue = catalogue
        self._fetcher = fetcher
        self._hot = hot
        self._metrics = metrics
        # A sync of an (instance, API) within the cooldown of the last one shares its outcome: repeated
        # POST /sync reach VOS at most once per cooldown (bounded: instances x catalogue APIs).
        self._cooldown_s = cooldown_s
        self._recent: dict[tuple[int, str], tuple[float, SyncApiResult]] = {}

    def specs(self, names: list[str] | None) -> list[ApiSpec]:
        """The APIs to sync (default: the scheduled ones); 403/404 for a write or unknown name."""
        if names is None:
            return self._catalogue.scheduled()
        return [resolve_spec(self._catalogue, name) for name in dict.fromkeys(names)]

    async def sync(self, instance: InstanceInfo, specs: list[ApiSpec]) -> SyncReply:
        outcomes = await asyncio.gather(*(self._one(instance, spec) for spec in specs))
        log.info(
            "sync requested",
            extra={"instance_id": instance.id, "apis": len(specs), "ok": sum(o.ok for o in outcomes)},
        )
        return SyncReply(instance_id=instance.id, results=list(outcomes))

    async def _one(self, instance: InstanceInfo, spec: ApiSpec) -> SyncApiResult:
        recent = self._recent.get((instance.id, spec.name))
        if recent is not None and recent[0] > time.monotonic():
            return recent[1]
        outcome = await self._fetch(instance, spec)
        if self._cooldown_s > 0:
            self._recent[(instance.id, spec.name)] = (time.monotonic() + self._cooldown_s, outcome)
        return outcome

    async def _fetch(self, instance: InstanceInfo, spec: ApiSpec) -> SyncApiResult:
        generation = self._hot.generation(instance.id)
        outcome = await self._fetcher.fetch(
            FetchRequest(instance_id=instance.id, api_name=spec.name, params={}, reason=FetchReason.SYNC)
        )
        result = outcome.result
        self._metrics.fetches["ok" if outcome.ok else (outcome.error_kind or "failed")] += 1
        if outcome.ok and result is not None:
            self._hot.put(
                CachedReply(
                    instance_id=instance.id,
                    api_path=spec.path,
                    cache_key=params_key(spec.path, {}),
                    data=dumps(result.response or {}),
                    synced_at=result.fetched_at,
                    expires_at=result.fetched_at + timedelta(seconds=spec.ttl_s),
                    compact=True,
                ),
                generation,
            )
        return SyncApiResult(
            api_name=spec.name,
            ok=outcome.ok,
            error_kind=outcome.error_kind,
            error=outcome.error,
            ret_code=result.ret_code if result is not None else None,
            duration_ms=result.duration_ms if result and result.duration_ms else outcome.elapsed_ms,
        )
