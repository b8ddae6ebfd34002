"""Prometheus metrics of one writer (own registry, so several writers can live in one test process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from vosync.shared.catalogue import Catalogue
from vosync.shared.service_metrics import SECONDS_BUCKETS, service_registry

BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


class WriterMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = service_registry(registry, "writer")
        self.gateways = Gauge(
            "vosync_gateways",
            "Gateways in the table, per instance and type (after the last commit that changed them)",
            ["instance_id", "gateway_type"],
            registry=r,
        )
        self.gateways_online = Gauge(
            "vosync_gateways_online",
            "Online gateways, per instance and type (after the last commit that changed them)",
            ["instance_id", "gateway_type"],
            registry=r,
        )
        self.gateway_online = Gauge(
            "vosync_gateway_online",
            "1 if the gateway is online, else 0 (only with VOSYNC_METRICS_GATEWAY_SERIES: one series each)",
            ["instance_id", "gateway_type", "gateway_name"],
            registry=r,
        )
        self.results = Counter(
            "vosync_writer_results",
            "Results handled, by API and outcome (applied, unchanged, failure_recorded, stale, "
            "superseded, unknown_instance, dead_lettered)",
            ["api", "outcome"],
            registry=r,
        )
        self.batch_size = Histogram(
            "vosync_writer_batch_size", "Messages per fetched batch", buckets=BATCH_BUCKETS, registry=r
        )
        self.batch_seconds = Histogram(
            "vosync_writer_batch_seconds",
            "Time to apply and commit one batch",
            buckets=SECONDS_BUCKETS,
            registry=r,
        )
        self.consumer_pending = Gauge(
            "vosync_writer_consumer_pending",
            "Consumer lag: messages of VOS_RESULTS not yet delivered to any writer (num_pending)",
            registry=r,
        )
        self.consumer_ack_pending = Gauge(
            "vosync_writer_consumer_ack_pending",
            "Messages delivered to the writers and not yet acknowledged",
            registry=r,
        )
        self.outbox_backlog = Gauge(
            "vosync_writer_outbox_backlog", "Gateway events committed but not yet published", registry=r
        )
        self.events_written = Counter(
            "vosync_writer_events_written", "Online/offline transitions written to the outbox", registry=r
        )
        self.events_published = Counter(
            "vosync_writer_events_published", "Outbox events published to GATEWAY_EVENTS", registry=r
        )
        self.dead_lettered = Counter(
            "vosync_writer_dead_lettered",
            "Messages sent to the dead-letter stream, by stage (decode, invalid, apply; outbox: an outbox"
            " row set aside)",
            ["stage"],
            registry=r,
        )
        self.cleanup_deleted = Counter(
            "vosync_writer_cleanup_deleted",
            "Rows the periodic cleanup deleted past their retention, by table (gateway_event_outbox:"
            " published events; gateway_event_outbox_dead: rows set aside; vos_data_cache: unused rows)",
            ["table"],
            registry=r,
        )
        self.naks = Counter(
            "vosync_writer_naks", "Messages handed back for a delayed redelivery after a failure", registry=r
        )
        self.db_unavailable = Counter(
            "vosync_writer_db_retries",
            "Batch attempts that failed because PostgreSQL was unavailable (the batch was held and retried)",
            registry=r,
        )
        self.projection_problems = Counter(
            "vosync_writer_projection_problems",
            "Problems in gateway replies (missing list, bad items or values), by API and kind",
            ["api", "problem"],
            registry=r,
        )


def api_label(catalogue: Catalogue, api_name: str) -> str:
    """The API as a label value: known names only, so a bad producer cannot explode the series."""
    return api_name if api_name in catalogue.names() else "other"
