"""What every vosync service exports besides its own metrics: the process, GC and platform
collectors of prometheus_client, and `vosync_build_info` (which version of which service runs).

Each service keeps its own registry (several services can share one test process), so the
collectors are registered per registry instead of on prometheus_client's global one.
"""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

from prometheus_client import GC_COLLECTOR, CollectorRegistry, Gauge
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

# The buckets of the poller's and the writer's duration histograms (VOS calls, batch commits).
SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def vosync_version() -> str:
    try:
        return version("vosync-shared")
    except PackageNotFoundError:  # run from a source tree without installing
        return "unknown"


def register_standard_metrics(registry: CollectorRegistry, service: str) -> None:
    """Process (CPU, RSS, open fds), GC, platform and build info on `registry`."""
    ProcessCollector(registry=registry)
    if GC_COLLECTOR is not None:  # None on interpreters without gc.get_stats
        GCCollector(registry=registry)
    PlatformCollector(registry=registry)
    Gauge(
        "vosync_build_info",
        "Always 1: the version of the vosync service that exports it",
        ["service", "version", "python"],
        registry=registry,
    ).labels(service, vosync_version(), platform.python_version()).set(1)


def service_registry(registry: CollectorRegistry | None, service: str) -> CollectorRegistry:
    """`registry` (a new one if None) with the standard metrics of `service` registered on it."""
    registry = registry or CollectorRegistry()
    register_standard_metrics(registry, service)
    return registry
