"""Fetch now: one FetchRequest(reason=sync) per API, in parallel, each outcome reported.

A successful result also refreshes this process's in-process cache; the poller publishes it to the
stream as usual, so the writer stores it like any other.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from vosync.api.domain.proxy.service import params_key, resolve_spec
from vosync.api.domain.sync.schemas import SyncOutcome, SyncReply
from vosync.api.lib.directory import InstanceInfo
from vosync.api.lib.fetcher import Fetcher
from vosync.api.lib.hot_cache import CachedReply, HotCache
from vosync.api.lib.jsonutil import dumps
from vosync.api.lib.metrics import ApiMetrics
from vosync.shared.catalogue import ApiSpec, Catalogue
from vosync.shared.messages import FetchReason, FetchRequest

log = logging.getLogger(__name__)


class SyncService:
    def __init__(self, catalogue: Catalogue, fetcher: Fetcher, hot: HotCache, metrics: ApiMetrics) -> None:
        self._catalogue = catalogue
        self._fetcher = fetcher
        self._hot = hot
        self._metrics = metrics

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

    async def _one(self, instance: InstanceInfo, spec: ApiSpec) -> SyncOutcome:
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
        return SyncOutcome(
            api_name=spec.name,
            ok=outcome.ok,
            error_kind=outcome.error_kind,
            error=outcome.error,
            ret_code=result.ret_code if result is not None else None,
            duration_ms=result.duration_ms if result and result.duration_ms else outcome.elapsed_ms,
        )
