"""The routes' dependencies: each name a handler asks for has one provider, typed with the class the
handler declares; the path's instance is a dependency; the gateway routes resolve one."""

from typing import Any, get_args, get_type_hints

import pytest
from litestar import Litestar
from litestar.di import Dependency
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute

from vosync.api.app import create_app
from vosync.api.deps import dependencies
from vosync.api.lib.directory import InstanceInfo
from vosync.api.resources import ApiResources
from vosync.shared.settings import Settings

URLS: dict[str, Any] = {"nats_url": "nats://127.0.0.1:1", "database_url": "postgresql://u@127.0.0.1:1/db"}
INSTANCE_ROUTES = {
    "getGatewayHistory",
    "listPhones",
    "getPhone",
    "listFeeRateGroups",
    "listSuites",
    "cacheStatus",
    "invalidateCache",
    "syncInstance",
}


@pytest.fixture(scope="module")
def app() -> Litestar:
    return create_app(Settings(**URLS, auth="required", api_keys={"k": "admin"}))


def _handlers(app: Litestar) -> list[tuple[HTTPRoute, HTTPRouteHandler]]:
    return [
        (route, handler)
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
        # Litestar's own handlers (static files, the schema pages) take no vosync dependency.
        if "OPTIONS" not in handler.http_methods and handler.fn.__module__.startswith("vosync.")
    ]


def _named_dependencies(handler: HTTPRouteHandler) -> dict[str, type]:
    """The handler's NamedDependency[...] parameters and the type each declares."""
    hints = get_type_hints(handler.fn, include_extras=True)
    named: dict[str, type] = {}
    for name, hint in hints.items():
        args = get_args(hint)
        if len(args) > 1 and any(isinstance(meta, Dependency) for meta in args[1:]):
            named[name] = args[0]
    return named


def test_every_dependency_a_handler_declares_has_a_provider_returning_that_type(app: Litestar) -> None:
    provided = dependencies(ApiResources(Settings(**URLS, auth="off")))
    asked: set[str] = set()
    for _route, handler in _handlers(app):
        for name, declared in _named_dependencies(handler).items():
            asked.add(name)
            assert name in provided, f"{handler.handler_name} asks for {name!r}, which nothing provides"
            returned = get_type_hints(provided[name].dependency)["return"]
            assert returned is declared, (handler.handler_name, name, returned, declared)
    assert asked == set(provided), f"providers no handler uses: {set(provided) - asked}"


def test_the_paths_instance_is_a_dependency_and_the_gateway_list_resolves_one(app: Litestar) -> None:
    batches: dict[str, list[set[str]]] = {}
    for route, handler in _handlers(app):
        operation_id = handler.operation_id
        if isinstance(operation_id, str):
            model = handler.create_kwargs_model(route.path_parameters)
            batches[operation_id] = [{d.key for d in batch} for batch in model.dependency_batches]
    for operation_id in INSTANCE_ROUTES:
        assert "instance" in set().union(*batches[operation_id]), operation_id
        assert _named_dependencies(_handler(app, operation_id))["instance"] is InstanceInfo
    # Two dependencies on one route resolve in an anyio task group per request (benchmarks/README.md,
    # issue 19): the gateway routes, the page's busiest, take one and look the instance up themselves.
    assert batches["listGateways"] == [{"gateways"}]
    assert batches["getGateway"] == [{"gateways"}]
    assert batches["proxyVosApi"] == [{"proxy"}]


def _handler(app: Litestar, operation_id: str) -> HTTPRouteHandler:
    return next(h for _r, h in _handlers(app) if h.operation_id == operation_id)


def test_a_provider_before_start_says_the_resources_are_not_started() -> None:
    provided = dependencies(ApiResources(Settings(**URLS, auth="off")))
    with pytest.raises(RuntimeError, match="api resources not started"):
        provided["gateways"].dependency()
