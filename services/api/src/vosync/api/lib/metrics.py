"""Prometheus metrics of one api process: requests by route and status, latency, data sources,
coalesced requests, in-process cache hits, SSE clients. A registry per app, so tests can build many."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class ApiMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "vosync_api_requests",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "vosync_api_request_duration_seconds",
            "Time to the response start, by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.proxy_replies = Counter(
            "vosync_api_proxy_replies", "Proxy replies by data_source", ["data_source"], registry=r
        )
        self.coalesced = Counter(
            "vosync_api_coalesced_requests", "Requests that joined an in-flight load or fetch", registry=r
        )
        self.hot_cache = Counter(
            "vosync_api_hot_cache_lookups", "In-process cache lookups by result", ["result"], registry=r
        )
        self.fetches = Counter(
            "vosync_api_fetches", "vos.fetch requests to the pollers by outcome", ["outcome"], registry=r
        )
        self.invalidations = Counter(
            "vosync_api_cache_invalidations", "vos.cache.changed notifications applied", registry=r
        )
        self.sse_clients = Gauge("vosync_api_sse_clients", "Connected SSE clients", registry=r)
        self.sse_dropped = Counter(
            "vosync_api_sse_clients_dropped", "SSE clients dropped because they fell behind", registry=r
        )
        self.hot_cache_bytes = Gauge(
            "vosync_api_hot_cache_bytes", "Bytes budgeted by the in-process cache", registry=r
        )
        self._request_children: dict[tuple[str, str, int], Any] = {}
        self._latency_children: dict[str, Any] = {}

    def observe_request(self, route: str, method: str, status: int, seconds: float | None) -> None:
        key = (route, method, status)
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self.requests.labels(route, method, str(status))
        child.inc()
        if seconds is not None:
            hist = self._latency_children.get(route)
            if hist is None:
                hist = self._latency_children[route] = self.latency.labels(route)
            hist.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def metrics_middleware(metrics: ApiMetrics) -> Callable[[ASGIApp], ASGIApp]:
    """Counts every routed HTTP request by its route template (not the raw path: bounded labels)."""

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            started = time.perf_counter()
            state: list[Any] = [500, None]

            async def send_wrapper(message: Message) -> None:
                if message["type"] == "http.response.start":
                    state[0] = message["status"]
                    state[1] = time.perf_counter() - started
                await send(message)

            try:
                await app(scope, receive, send_wrapper)
            finally:
                route = scope.get("path_template") or "unmatched"
                metrics.observe_request(route, str(scope.get("method", "")), state[0], state[1])

        return middleware

    return factory
