"""The Litestar application factory."""

from __future__ import annotations

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin

from vosync.api.config import API_PREFIX, check_api_settings
from vosync.api.deps import dependencies
from vosync.api.domain.asyncapi.controller import ASYNCAPI_PAGE_PATH, asyncapi_json, asyncapi_page
from vosync.api.domain.cache.controller import CacheController
from vosync.api.domain.changes.controller import ChangeController
from vosync.api.domain.events.controller import EventController
from vosync.api.domain.gateways.controller import GatewayController
from vosync.api.domain.health.controller import HealthController
from vosync.api.domain.history.controller import HistoryController
from vosync.api.domain.instances.controller import InstanceController
from vosync.api.domain.page.controller import page_routers
from vosync.api.domain.phones.controller import PhoneController
from vosync.api.domain.proxy.controller import ProxyController
from vosync.api.domain.status.controller import StatusController
from vosync.api.domain.sync.controller import SyncController
from vosync.api.lib.auth import auth_middleware
from vosync.api.lib.errors import handle_exception
from vosync.api.lib.metrics import metrics_middleware
from vosync.api.lib.openapi import API_KEY_SCHEME, COMPONENTS
from vosync.api.lib.rate_limit import forced_refresh_limit
from vosync.api.resources import ApiResources
from vosync.shared.settings import Settings

API_VERSION = "1.0.0"


def create_app(settings: Settings, resources: ApiResources | None = None) -> Litestar:
    """The api as an ASGI app. Without `resources` the app opens its own at start-up (lifespan);
    ApiService passes resources it has already started, so start-up errors surface before serving."""
    check_api_settings(settings)
    resources = resources or ApiResources(settings)
    api = Router(
        path=API_PREFIX,
        route_handlers=[
            ProxyController,
            GatewayController,
            HistoryController,
            PhoneController,
            InstanceController,
            CacheController,
            SyncController,
            EventController,
            StatusController,
            ChangeController,
        ],
        security=[{API_KEY_SCHEME: []}],
    )
    return Litestar(
        route_handlers=[api, HealthController, asyncapi_json, asyncapi_page, *page_routers()],
        dependencies=dependencies(resources),
        lifespan=[resources.lifespan],
        state=State({"settings": settings, "resources": resources, "metrics": resources.metrics}),
        exception_handlers={Exception: handle_exception},
        # Outermost first: metrics see every routed request, including those auth refuses.
        middleware=[
            metrics_middleware(resources.metrics),
            auth_middleware(settings),
            forced_refresh_limit(settings.api_refresh_rate_per_minute),
        ],
        request_max_body_size=settings.api_max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="vosync api",
            version=API_VERSION,
            description=(
                "Fresh, cached VOS3000 data: a cached proxy for read-only VOS APIs, gateways with online"
                " status, VOS instances, cache control and live gateway events. Auth: X-API-Key with role"
                " read or admin (instances, invalidation and sync need admin). The NATS messages between"
                f" the services: [AsyncAPI]({ASYNCAPI_PAGE_PATH}) ({ASYNCAPI_PAGE_PATH}.json)."
            ),
            path="/schema",
            components=COMPONENTS,
            render_plugins=[SwaggerRenderPlugin(), ScalarRenderPlugin()],
        ),
        logging_config=None,
        debug=False,
    )
