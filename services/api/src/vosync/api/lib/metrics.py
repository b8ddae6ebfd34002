"""Prometheus metrics of one api process: requests by route and status, latency, data sources,
coalesced requests, in-process cache hits, fetches, SSE clients.

The hot path only bumps plain ints (no locks, no label lookups); a collector turns them into metric
families when /metrics is scraped. One registry per app, so tests can build many apps.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterator

from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from vosync.shared.service_metrics import register_standard_metrics

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class _Histogram:
    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)  # the last slot is +Inf
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.sum += seconds

    def cumulative(self) -> list[tuple[str, float]]:
        out, running = [], 0
        for bound, count in zip((*LATENCY_BUCKETS, float("inf")), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(float(bound)), float(running)))
        return out


class ApiMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str, int]] = Counter()
        self.latency: dict[str, _Histogram] = {}
        self.proxy_replies: Counter[str] = Counter({"database": 0, "vos_api": 0, "stale": 0})
        self.hot_cache: Counter[str] = Counter({"hit": 0, "stale": 0, "miss": 0})
        self.fetches: Counter[str] = Counter()
        self.coalesced = 0
        # The last readiness result per dependency (1 up, 0 degraded); refreshed by each probe/scrape.
        self.dependencies: dict[str, bool] = {}
        self.invalidations = 0
        self.sse_dropped = 0
        self.sse_clients: Callable[[], int] = lambda: 0
        self.hot_cache_bytes: Callable[[], int] = lambda: 0
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(self))
        register_standard_metrics(self.registry, "api")

    def observe_request(self, route: str, method: str, status: int, seconds: float | None) -> None:
        self.requests[(route, method, status)] += 1
        if seconds is not None:
            hist = self.latency.get(route)
            if hist is None:
                hist = self.latency[route] = _Histogram()
            hist.observe(seconds)

    def count_coalesced(self) -> None:
        self.coalesced += 1

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Collector:
    def __init__(self, metrics: ApiMetrics) -> None:
        self._m = metrics

    def collect(self) -> Iterator[Metric]:
        m = self._m
        requests = CounterMetricFamily(
            "vosync_api_requests",
            "HTTP requests by route, method, status",
            labels=("route", "method", "status"),
        )
        for (route, method, status), count in sorted(m.requests.items()):
            requests.add_metric([route, method, str(status)], count)
        yield requests
        latency = HistogramMetricFamily(
            "vosync_api_request_duration_seconds", "Time to the response start, by route", labels=["route"]
        )
        for route, hist in sorted(m.latency.items()):
            latency.add_metric([route], hist.cumulative(), hist.sum)
        yield latency
        yield _by_label("vosync_api_proxy_replies", "Proxy replies by source", "data_source", m.proxy_replies)
        yield _by_label("vosync_api_hot_cache_lookups", "In-process cache lookups", "result", m.hot_cache)
        yield _by_label("vosync_api_fetches", "Fetches asked of pollers, by outcome", "outcome", m.fetches)
        yield CounterMetricFamily(
            "vosync_api_coalesced_requests", "Requests that joined an in-flight load/fetch", value=m.coalesced
        )
        yield CounterMetricFamily(
            "vosync_api_cache_invalidations", "vos.cache.changed notifications applied", value=m.invalidations
        )
        yield CounterMetricFamily(
            "vosync_api_sse_clients_dropped", "SSE clients dropped for falling behind", value=m.sse_dropped
        )
        up = GaugeMetricFamily(
            "vosync_api_dependency_up",
            "Dependency reachable at the last check (0: degraded)",
            labels=["dependency"],
        )
        for name, ok in sorted(m.dependencies.items()):
            up.add_metric([name], 1.0 if ok else 0.0)
        yield up
        yield GaugeMetricFamily("vosync_api_sse_clients", "Connected SSE clients", value=m.sse_clients())
        yield GaugeMetricFamily(
            "vosync_api_hot_cache_bytes", "Bytes budgeted by the in-process cache", value=m.hot_cache_bytes()
        )


def _by_label(name: str, documentation: str, label: str, counts: Counter[str]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=[label])
    for value, count in sorted(counts.items()):
        family.add_metric([value], count)
    return family


def metrics_middleware(metrics: ApiMetrics) -> Callable[[ASGIApp], ASGIApp]:
    """Counts every routed HTTP request by its route template (not the raw path: bounded labels)."""

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            started = time.perf_counter()
            state: list[int | float | None] = [500, None]

            async def send_wrapper(message: Message) -> None:
                if message["type"] == "http.response.start":
                    state[0] = message["status"]
                    state[1] = time.perf_counter() - started
                await send(message)

            try:
                await app(scope, receive, send_wrapper)
            except HTTPException as exc:  # raised before a response (auth): answered further out
                state[0] = exc.status_code
                raise
            finally:
                route = scope.get("path_template") or "unmatched"
                status, seconds = state
                metrics.observe_request(route, str(scope.get("method", "")), int(status or 500), seconds)

        return middleware

    return factory
