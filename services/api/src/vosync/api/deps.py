"""The routes' dependencies, declared once: one typed provider per service, each reading a typed
attribute of the started ApiResources, and the path's instance resolved once.

The providers close over the resources rather than take them as a dependency: a provider without
parameters costs Litestar no signature parsing per request, and a route's dependencies stay leaves
(two dependencies of one route still resolve in one task group; see the gateway list route).
"""

from __future__ import annotations

from collections.abc import Callable

from litestar.di import Provide
from litestar.params import FromPath

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
from vosync.api.lib.directory import InstanceInfo
from vosync.api.resources import ApiResources


def _service(provide: Callable[[], object]) -> Provide:
    # The services live as long as the resources: resolved once, then served from Provide's cache.
    return Provide(provide, sync_to_thread=False, use_cache=True)


def dependencies(resources: ApiResources) -> dict[str, Provide]:
    """The app's dependencies, by the parameter name a handler declares (NamedDependency[...])."""

    def provide_proxy() -> ProxyService:
        return resources.services.proxy

    def provide_gateways() -> GatewayService:
        return resources.services.gateways

    def provide_phones() -> PhoneService:
        return resources.services.phones

    def provide_instances() -> InstanceService:
        return resources.services.instances

    def provide_cache() -> CacheService:
        return resources.services.cache

    def provide_sync() -> SyncService:
        return resources.services.sync

    def provide_events() -> EventHub:
        return resources.services.events

    def provide_event_log() -> EventLog:
        return resources.services.event_log

    def provide_history() -> HistoryService:
        return resources.services.history

    def provide_changes() -> ChangeHub:
        return resources.services.changes

    def provide_health() -> HealthService:
        return resources.services.health

    def provide_status() -> StatusService:
        return resources.services.status

    async def provide_instance(instance_id: FromPath[int]) -> InstanceInfo:
        """The path's instance, or 404 "unknown instance N"."""
        return await resources.services.directory.require(instance_id)

    return {
        "proxy": _service(provide_proxy),
        "gateways": _service(provide_gateways),
        "phones": _service(provide_phones),
        "instances": _service(provide_instances),
        "cache": _service(provide_cache),
        "sync": _service(provide_sync),
        "events": _service(provide_events),
        "event_log": _service(provide_event_log),
        "history": _service(provide_history),
        "changes": _service(provide_changes),
        "health": _service(provide_health),
        "status": _service(provide_status),
        # Per request (the path's id); never cached.
        "instance": Provide(provide_instance, use_cache=False),
    }
