"""Prometheus metrics of one poller (own registry, so several pollers can live in one test process)."""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from vosync.shared.service_metrics import SECONDS_BUCKETS, service_registry

LATENESS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class PollerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = service_registry(registry, "poller")
        self.vos = VosMetrics(r)
        self.polls = Counter(
            "vosync_poller_polls",
            "VOS calls by API and outcome (ok or the error kind)",
            ["api", "outcome"],
            registry=r,
        )
        self.too_large = Counter(
            "vosync_poller_results_too_large",
            "Results too large for the bus (NATS max_payload), published as too_large failures",
            ["api"],
            registry=r,
        )
        self.vos_latency = Histogram(
            "vosync_poller_vos_latency_seconds",
            "Duration of VOS calls, any outcome",
            ["api"],
            buckets=SECONDS_BUCKETS,
            registry=r,
        )
        self.schedule_lateness = Histogram(
            "vosync_poller_schedule_lateness_seconds",
            "How much later than planned scheduled runs wake up (event-loop lag of an overloaded poller)",
            buckets=LATENESS_BUCKETS,
            registry=r,
        )
        self.owned_instances = Gauge(
            "vosync_poller_owned_instances", "Instances this poller holds a lease on", registry=r
        )
        self.lease_changes = Counter(
            "vosync_poller_lease_changes",
            "Leases acquired, released, lost (taken or failed CAS) or expired (not renewed in time)",
            ["change"],
            registry=r,
        )
        self.on_demand = Counter(
            "vosync_poller_on_demand_requests",
            "On-demand fetch requests by outcome (ok, failed, rejected)",
            ["outcome"],
            registry=r,
        )
        self.on_demand_coalesced = Counter(
            "vosync_poller_on_demand_coalesced",
            "On-demand requests that shared a VOS call already in flight",
            registry=r,
        )
        self.backing_off = Gauge(
            "vosync_poller_instances_backing_off", "Instances in transport-failure backoff", registry=r
        )
        self.skipped = Counter(
            "vosync_poller_skipped_runs",
            "Scheduled runs not sent to VOS because the instance is backing off",
            ["api"],
            registry=r,
        )
        self.phone_details = Counter(
            "vosync_poller_phone_details",
            "Numbers asked for with GetPhoneOnline after GetAllPhoneOnline: new, or refreshed (round-robin)",
            ["source"],
            registry=r,
        )
        self.published = Counter("vosync_poller_results_published", "Results acked by JetStream", registry=r)
        self.publish_dropped = Counter(
            "vosync_poller_results_dropped",
            "Results dropped from a full publish backlog (an older result of a key with a newer one queued)",
            registry=r,
        )
        self.publish_backlog = Gauge(
            "vosync_poller_publish_backlog", "Results waiting for a JetStream ack", registry=r
        )


class VosMetrics:
    """Per VOS instance: how fresh, how fast, how failing. One series per (instance, API), so the
    series of an instance go away when this poller stops polling it (`forget`)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.last_success = Gauge(
            "vosync_vos_last_success_timestamp_seconds",
            "When VOS last answered this API of this instance successfully (Unix time)",
            ["instance_id", "api"],
            registry=r,
        )
        self.duration = Histogram(
            "vosync_vos_request_duration_seconds",
            "Duration of VOS calls of this instance and API, any outcome",
            ["instance_id", "api"],
            buckets=SECONDS_BUCKETS,
            registry=r,
        )
        self.failures = Counter(
            "vosync_vos_failures",
            "Failed VOS calls by kind (transport, http, vos_error, bad_reply, ...)",
            ["instance_id", "api", "kind"],
            registry=r,
        )
        self.backoff = Gauge(
            "vosync_vos_backoff",
            "1 while the instance is in transport-failure backoff (no calls go to VOS), else 0",
            ["instance_id"],
            registry=r,
        )
        self.poll_interval = Gauge(
            "vosync_vos_poll_interval_seconds",
            "How often this poller's schedules ask each API (the freshness alert's yardstick)",
            ["api"],
            registry=r,
        )
        self._seen: dict[str, set[tuple[str, ...]]] = {}

    def schedule(self, intervals: dict[str, float]) -> None:
        for api, seconds in intervals.items():
            self.poll_interval.labels(api).set(seconds)

    def call(self, instance_id: int, api: str, seconds: float, failure: str | None, at: float) -> None:
        inst = str(instance_id)
        self._seen.setdefault(inst, set()).add((api,))
        self.duration.labels(inst, api).observe(seconds)
        if failure is None:
            self.last_success.labels(inst, api).set(at)
        else:
            self._seen[inst].add((api, failure))
            self.failures.labels(inst, api, failure).inc()

    def backing_off(self, instance_id: int, on: bool) -> None:
        self._seen.setdefault(str(instance_id), set())
        self.backoff.labels(str(instance_id)).set(1 if on else 0)

    def forget(self, instance_id: int) -> None:
        """This poller no longer polls the instance: its series stop here (another poller's start)."""
        inst = str(instance_id)
        for labels in self._seen.pop(inst, set()):
            if len(labels) == 1:
                _remove(self.duration, inst, *labels)
                _remove(self.last_success, inst, *labels)
            else:
                _remove(self.failures, inst, *labels)
        _remove(self.backoff, inst)


def _remove(metric: Gauge | Histogram | Counter, *labels: str) -> None:
    with contextlib.suppress(KeyError):  # never set for these labels
        metric.remove(*labels)
