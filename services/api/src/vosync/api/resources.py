"""Everything an api process holds open: the database engine, the FastStream broker (the NATS
connection and its subscribers), the instances bucket, the in-process cache and the services built
on them. Started once, before serving; the broker starts and stops with the app."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from faststream.message import StreamMessage
from sqlalchemy.ext.asyncio import AsyncEngine

from vosync.api.domain.cache.service import CacheService
from vosync.api.domain.changes.service import ChangeHub
from vosync.api.domain.events.log import EventLog
from vosync.api.domain.events.service import EventHub
from vosync.api.domain.gateways.service import GatewayService
from vosync.api.domain.health.service import HealthService
from vosync.api.domain.history.service import HistoryService
from vosync.api.domain.instances.service import InstanceService
from vosync.api.domain.phones.service import PhoneService
from vosync.api.domain.proxy.service import ProxyService
from vosync.api.domain.status.service import StatusService
from vosync.api.domain.sync.service import SyncService
from vosync.api.lib.directory import CachedInstances
from vosync.api.lib.fetcher import Fetcher
from vosync.api.lib.hot_cache import HotCache
from vosync.api.lib.list_cache import ListCache
from vosync.api.lib.metrics import ApiMetrics
from vosync.shared import bus, channels
from vosync.shared.broker import VosyncBroker, make_broker
from vosync.shared.db.engine import make_engine
from vosync.shared.messages import CacheChanged
from vosync.shared.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ApiServices:
    """The services the routes use, built once the connections are open."""

    directory: CachedInstances
    proxy: ProxyService
    gateways: GatewayService
    phones: PhoneService
    instances: InstanceService
    cache: CacheService
    sync: SyncService
    events: EventHub
    event_log: EventLog
    history: HistoryService
    changes: ChangeHub
    health: HealthService
    status: StatusService


class ApiResources:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = ApiMetrics()
        self.hot = HotCache(settings.api_hot_cache_max_bytes)
        self.lists = ListCache(settings.api_list_cache_max_bytes)
        self.metrics.hot_cache_bytes = lambda: self.hot.size_bytes
        self.started = False
        self._engine: AsyncEngine | None = None
        self._broker: VosyncBroker | None = None
        self._directory: CachedInstances | None = None
        self._services: ApiServices | None = None

    # -- the services, for the dependency providers (deps.py) and the hot reads ------------------
    @property
    def services(self) -> ApiServices:
        if self._services is None:
            raise RuntimeError("api resources not started")
        return self._services

    @property
    def proxy(self) -> ProxyService:
        return self.services.proxy

    def end_event_streams(self) -> None:
        if self._services is not None:
            self._services.events.close_all()
            self._services.changes.close_all()

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        if self.started:
            return
        settings = self.settings
        self._engine = engine = make_engine(settings, application_name="vosync-api")
        self._broker = broker = make_broker(
            settings, "vosync-api", registry=self.metrics.registry, on_reconnect=self._on_reconnect
        )
        events = EventHub(self.metrics)
        # Declared before the broker starts. No queue group on either: every api replica must see
        # every change and every event.
        broker.subscriber(
            channels.CACHE_CHANGED.wildcard, decoder=self._decode_cache_changed, pending_msgs_limit=100_000
        )(self._on_cache_changed)
        events.declare(broker)
        try:
            await broker.start()
            # The bucket keeps bus.ensure_bucket: broker.key_value would declare it from its own
            # arguments, not from bus.bucket_configs (the one place its configuration lives).
            js = broker.client.jetstream()
            config = next(c for c in bus.bucket_configs(settings) if c.bucket == bus.INSTANCES_BUCKET)
            kv = await bus.ensure_bucket(js, config)
            self._directory = directory = CachedInstances(engine)
            await directory.load()
            fetcher = Fetcher(broker, settings.api_fetch_timeout_s)
            health = HealthService(
                engine, broker, hot_entries=lambda: len(self.hot), on_checked=self.metrics.dependencies.update
            )
            catalogue = settings.catalogue
            instances = InstanceService(engine, kv, directory, self.hot)
            await instances.reconcile()
            self._services = ApiServices(
                directory=directory,
                proxy=ProxyService(
                    catalogue=catalogue,
                    engine=engine,
                    hot=self.hot,
                    directory=directory,
                    fetcher=fetcher,
                    metrics=self.metrics,
                    failure_backoff_s=settings.api_failure_backoff_s,
                    refresh_cooldown_s=settings.api_refresh_cooldown_s,
                    grace_s=settings.stale_while_revalidate_s,
                    read_touch_s=settings.cache_read_touch_s,
                ),
                gateways=GatewayService(engine, directory, self.lists),
                phones=PhoneService(engine),
                instances=instances,
                cache=CacheService(engine, broker, self.hot),
                sync=SyncService(
                    catalogue, fetcher, self.hot, self.metrics, cooldown_s=settings.api_refresh_cooldown_s
                ),
                events=events,
                changes=ChangeHub(catalogue),
                event_log=EventLog(engine),
                history=HistoryService(engine),
                health=health,
                status=StatusService(engine, broker, health),
            )
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
        if self._services is not None:
            await self._services.events.stop()
            self._services.changes.close_all()
            await self._services.proxy.stop()
        if self._directory is not None:
            await self._directory.stop()
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
        if self._broker is not None:
            with contextlib.suppress(Exception):
                await self._broker.stop()  # stops the subscribers and drains the connection
            self._broker = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def _on_reconnect(self) -> None:
        # Invalidations sent while we were away are lost: start the in-process cache afresh.
        self.hot.clear()
        self.lists.clear()
        log.info("in-process cache cleared after nats reconnect")

    @staticmethod
    async def _decode_cache_changed(msg: StreamMessage[Any]) -> CacheChanged | None:
        """CACHE_CHANGED's decoder; an undecodable hint is logged and dropped (None), never raised."""
        try:
            return await channels.CACHE_CHANGED.decoder(msg)
        except channels.UndecodableMessage as exc:
            subject = getattr(msg.raw_message, "subject", "")
            log.warning("undecodable cache change", extra={"subject": subject, "error": str(exc)[:200]})
            return None

    async def _on_cache_changed(self, changed: CacheChanged | None) -> None:
        if changed is None:
            return
        # Any note for the instance drops its gateway lists: changed data may have changed the
        # table, and a confirmed-unchanged poll moved the synced_at the lists show.
        self.lists.invalidate_instance(changed.instance_id)
        services = self._services
        if services is not None:
            services.changes.publish(changed)
        if not changed.cache_keys:
            return  # timestamps only: the hot cache holds the data, which did not change
        self.hot.invalidate(changed.instance_id, changed.cache_keys)
        if services is not None:
            services.proxy.forget_failures(changed.instance_id, set(changed.cache_keys))
        self.metrics.invalidations += 1
