"""Prometheus metrics of one poller (own registry, so several pollers can live in one test process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LATENESS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class PollerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
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
            buckets=LATENCY_BUCKETS,
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
        self.published = Counter("vosync_poller_results_published", "Results acked by JetStream", registry=r)
        self.publish_dropped = Counter(
            "vosync_poller_results_dropped",
            "Results dropped from a full publish backlog (an older result of a key with a newer one queued)",
            registry=r,
        )
        self.publish_backlog = Gauge(
            "vosync_poller_publish_backlog", "Results waiting for a JetStream ack", registry=r
        )
