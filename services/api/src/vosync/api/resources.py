"""Everything an api process holds open: the database engine, the NATS connection, the instances
bucket, the in-process cache and the services built on them. Started once, before serving."""

from __future__ import annotations

import contextlib
import logging
import zlib
from collections.abc import AsyncIterator
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from vosync.api.domain.cache.service import CacheService
from vosync.api.domain.events.service import EventHub
from vosync.api.domain.gateways.service import GatewayService
from vosync.api.domain.health.service import HealthService
from vosync.api.domain.instances.service import InstanceService
from vosync.api.domain.proxy.service import ProxyService
from vosync.api.domain.sync.service import SyncService
from vosync.api.lib.directory import InstanceDirectory
from vosync.api.lib.fetcher import Fetcher
from vosync.api.lib.hot_cache import HotCache
from vosync.api.lib.metrics import ApiMetrics
from vosync.shared import bus
from vosync.shared.codec import decode
from vosync.shared.db.engine import make_engine
from vosync.shared.messages import CacheChanged
from vosync.shared.settings import Settings

log = logging.getLogger(__name__)


class ApiResources:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = ApiMetrics()
        self.hot = HotCache(settings.api_hot_cache_max_bytes)
        self.metrics.hot_cache_bytes = lambda: self.hot.size_bytes
        self.started = False
        self._engine: AsyncEngine | None = None
        self._nc: NatsClient | None = None
        self._cache_sub: Subscription | None = None
        self._directory: InstanceDirectory | None = None
        self._services: dict[str, Any] = {}

    # -- the services, for dependency injection --------------------------------------------------
    def service(self, name: str) -> Any:
        try:
            return self._services[name]
        except KeyError:
            raise RuntimeError(f"api resources not started (no {name!r})") from None

    @property
    def proxy(self) -> ProxyService:
        return self.service("proxy")  # type: ignore[no-any-return]

    @property
    def events(self) -> EventHub:
        return self.service("events")  # type: ignore[no-any-return]

    @property
    def instances(self) -> InstanceService:
        return self.service("instances")  # type: ignore[no-any-return]

    def end_event_streams(self) -> None:
        if "events" in self._services:
            self.events.close_all()

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        if self.started:
            return
        settings = self.settings
        self._engine = engine = make_engine(settings, application_name="vosync-api")
        self._nc = nc = await bus.connect(settings, "vosync-api", on_reconnect=self._on_reconnect)
        try:
            js = nc.jetstream()
            config = next(c for c in bus.bucket_configs(settings) if c.bucket == bus.INSTANCES_BUCKET)
            kv = await bus.ensure_bucket(js, config)
            self._directory = directory = InstanceDirectory(engine)
            await directory.load()
            fetcher = Fetcher(nc, settings.api_fetch_timeout_s)
            catalogue = settings.catalogue
            instances = InstanceService(engine, kv, directory, self.hot)
            await instances.reconcile()
            events = EventHub(self.metrics)
            self._services = {
                "proxy": ProxyService(
                    catalogue=catalogue,
                    engine=engine,
                    hot=self.hot,
                    directory=directory,
                    fetcher=fetcher,
                    metrics=self.metrics,
                    failure_backoff_s=settings.api_failure_backoff_s,
                ),
                "gateways": GatewayService(engine),
                "instances": instances,
                "cache": CacheService(engine, nc, self.hot),
                "sync": SyncService(catalogue, fetcher, self.hot, self.metrics),
                "events": events,
                "health": HealthService(engine, nc),
            }
            # No queue group on either: every api replica must see every change and every event.
            self._cache_sub = await nc.subscribe(
                bus.CACHE_CHANGED_SUBJECTS, cb=self._on_cache_changed, pending_msgs_limit=100_000
            )
            await events.start(nc)
            directory.start()
        except BaseException:
            await self._close_connections()
            raise
        self.started = True
        log.info("api resources ready", extra={"hot_cache_max_bytes": settings.api_hot_cache_max_bytes})

    async def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        if "events" in self._services:
            await self.events.stop()
        if self._directory is not None:
            await self._directory.stop()
        if self._cache_sub is not None:
            with contextlib.suppress(Exception):
                await self._cache_sub.unsubscribe()
        await self._close_connections()

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Any) -> AsyncIterator[None]:
        """For an app that owns its resources (tests' AsyncTestClient); ApiService starts them itself."""
        owned = not self.started
        if owned:
            await self.start()
        try:
            yield
        finally:
            if owned:
                await self.stop()

    async def _close_connections(self) -> None:
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.drain()
            self._nc = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def _on_reconnect(self) -> None:
        # Invalidations sent while we were away are lost: start the in-process cache afresh.
        self.hot.clear()
        log.info("in-process cache cleared after nats reconnect")

    async def _on_cache_changed(self, msg: Msg) -> None:
        try:
            changed = decode(CacheChanged, msg.data, msg.headers)
        except (ValidationError, ValueError, zlib.error) as exc:
            log.warning("undecodable cache change", extra={"subject": msg.subject, "error": str(exc)[:200]})
            return
        self.hot.invalidate(changed.instance_id, changed.cache_keys)
        if "proxy" in self._services:
            self.proxy.forget_failures(changed.instance_id, set(changed.cache_keys))
        self.metrics.invalidations += 1
