"""WriterService: the consumer, the outbox relay, the consumer-lag probe, the cleanup and the ops endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from vosync.shared import bus
from vosync.shared.broker import VosyncBroker, make_broker
from vosync.shared.channels import CACHE_CHANGED
from vosync.shared.messages import CacheChanged
from vosync.shared.ops_http import OpsServer
from vosync.shared.settings import Settings
from vosync.writer.apply import BatchApplier, BatchReport
from vosync.writer.cleanup import Cleanup
from vosync.writer.cleanup_plan import RetentionPolicy
from vosync.writer.consumer import ResultConsumer
from vosync.writer.db import create_pool
from vosync.writer.dead_letter import DeadLetters
from vosync.writer.gateway_gauges import GatewayGauges
from vosync.writer.metrics import WriterMetrics, api_label
from vosync.writer.outbox import OutboxRelay

log = logging.getLogger(__name__)

STOP_BUDGET_S = 4.0  # of the 5 s a stop may take: the batch in hand, then everything else
LAG_PROBE_S = 5.0


class WriterService:
    def __init__(self, settings: Settings, metrics: WriterMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or WriterMetrics()
        self._stop = asyncio.Event()
        self._broker: VosyncBroker | None = None
        self._js: JetStreamContext | None = None
        self._pool: asyncpg.Pool | None = None
        self._consumer: ResultConsumer | None = None
        self._relay: OutboxRelay | None = None
        self._gauges: GatewayGauges | None = None
        self._ops: OpsServer | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def ops_port(self) -> int:
        assert self._ops is not None
        return self._ops.port

    async def start(self) -> None:
        settings = self.settings
        self._stop.clear()
        self._broker = broker = make_broker(settings, "vosync-writer", registry=self.metrics.registry)
        await broker.connect()
        self._js = broker.client.jetstream()
        await bus.ensure_writer_consumer(self._js, settings)
        self._pool = await create_pool(settings)
        applier = BatchApplier(self._pool, settings.catalogue)
        self._relay = OutboxRelay(self._pool, broker, self.metrics)
        self._gauges = GatewayGauges(self._pool, self.metrics, settings.metrics_gateway_series)
        self._consumer = ResultConsumer(
            settings, applier, DeadLetters(broker, self.metrics), self.metrics, self._after_commit, self._stop
        )
        self._consumer.declare(broker)
        await broker.start()
        self._consumer.started()
        self._ops = OpsServer(settings.ops_host, settings.ops_port, self._ready, self.metrics.registry)
        await self._ops.start()
        self._tasks = [
            asyncio.create_task(self._relay.run(self._stop), name="writer-relay"),
            asyncio.create_task(self._probe_lag(), name="writer-lag"),
            asyncio.create_task(self._gauges.run(self._stop), name="writer-gateway-gauges"),
            asyncio.create_task(self._cleanup_loop(settings), name="writer-cleanup"),
        ]
        log.info(
            "writer started",
            extra={"batch_size": settings.writer_batch_size, "max_deliver": settings.writer_max_deliver},
        )

    async def _cleanup_loop(self, settings: Settings) -> None:
        assert self._pool is not None
        policy = RetentionPolicy.from_settings(settings)
        cleanup = Cleanup(self._pool, policy, self.metrics, settings.writer_cleanup_interval_s)
        await cleanup.run(self._stop)

    async def stop(self) -> None:
        """Finish the batch in hand, stop fetching, publish nothing half-way; within 5 s."""
        self._stop.set()
        if self._consumer is not None:
            # The subscriber waits up to the broker's graceful timeout for the batch in hand; a
            # batch held for the database sees the stop event and naks at once.
            try:
                await asyncio.wait_for(self._consumer.stop(), STOP_BUDGET_S)
            except TimeoutError:
                log.warning("the batch in hand did not finish in time")
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=1.0)
            for task in late:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if late:
                log.warning(
                    "stopped tasks that did not finish in time", extra={"tasks": [t.get_name() for t in late]}
                )
            self._tasks = []
        if self._broker is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._broker.client.flush(), 0.5)  # the last acks
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._broker.client.close(), 0.5)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._broker.stop(), 0.5)
            self._broker = None
        if self._pool is not None:
            try:
                await asyncio.wait_for(self._pool.close(), 0.5)
            except Exception:
                self._pool.terminate()
            self._pool = None
        if self._ops is not None:
            await self._ops.stop()
            self._ops = None
        log.info("writer stopped")

    async def _after_commit(self, report: BatchReport) -> None:
        for result, outcome in report.outcomes:
            self.metrics.results.labels(api_label(self.settings.catalogue, result.api_name), outcome).inc()
        for (api, problem), count in report.problems.items():
            self.metrics.projection_problems.labels(api, problem).inc(count)
        for instance_id, count in sorted(report.unknown_instances.items()):
            log.info(
                "results of an unknown instance dropped", extra={"instance_id": instance_id, "count": count}
            )
        if report.events:
            self.metrics.events_written.inc(report.events)
            assert self._relay is not None
            self._relay.kick()
        if self._gauges is not None:
            self._gauges.changed(report.changed_keys)
        await self._notify(report)

    async def _notify(self, report: BatchReport) -> None:
        """Tell the api processes which cache keys changed (core NATS: a hint, never a record)."""
        if self._broker is None:
            return
        for instance_id in sorted(report.changed_keys.keys() | report.synced_keys.keys()):
            changed = CacheChanged(
                instance_id=instance_id,
                cache_keys=sorted(report.changed_keys.get(instance_id, ())),
                synced_keys=sorted(report.synced_keys.get(instance_id, ())),
            )
            body, headers = CACHE_CHANGED.encode(changed)
            try:
                await self._broker.publish(
                    body, CACHE_CHANGED.subject(instance_id=instance_id), headers=headers
                )
            except Exception as exc:
                log.debug("cache change notification not sent", extra={"error": repr(exc)})

    async def _probe_lag(self) -> None:
        """Consumer lag for /metrics, every few seconds; a durable that vanished (a stream or consumer
        deleted by hand, a JetStream that lost its state) is declared again, and the subscriber's
        pulls, which name the durable, find it again."""
        assert self._js is not None
        while not self._stop.is_set():
            try:
                info = await self._js.consumer_info(bus.RESULTS_STREAM, bus.WRITER_DURABLE, timeout=2)
                self.metrics.consumer_pending.set(info.num_pending or 0)
                self.metrics.consumer_ack_pending.set(info.num_ack_pending or 0)
            except NotFoundError:
                log.warning("the writer's durable consumer is gone; declaring it again")
                with contextlib.suppress(Exception):
                    await bus.ensure_writer_consumer(self._js, self.settings)
            except Exception as exc:
                log.debug("consumer info unavailable", extra={"error": repr(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), LAG_PROBE_S)

    async def _ready(self) -> dict[str, bool]:
        return {
            "nats": bool(self._broker is not None and self._broker.client.is_connected),
            "database": await self._database_answers(),
        }

    async def _database_answers(self) -> bool:
        if self._pool is None:
            return False
        try:
            async with asyncio.timeout(2):
                return bool(await self._pool.fetchval("SELECT 1") == 1)
        except Exception:
            return False
