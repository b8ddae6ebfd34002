"""The poller: keeps every scheduled VOS API of the instances it leases fresh, and serves on-demand
fetches for any instance. The only part of vosync that talks to VOS.

Pieces: WatchedInstances (instances from KV), LeaseManager (which instances this poller polls),
one schedule task per (owned instance, scheduled API), VosClient/Backoff/semaphore per instance,
a singleflight shared by scheduled and on-demand fetches (one VOS call per key at a time),
ResultPublisher (every outcome to VOS_RESULTS, retried until acked) and OnDemandServer.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import ssl
import time
from dataclasses import dataclass
from typing import Any, TypeVar

from nats.aio.client import Client as NatsClient

from vosync.poller.backoff import Backoff, BackoffPolicy
from vosync.poller.directory import WatchedInstances
from vosync.poller.failure_log import FailureLog
from vosync.poller.leases import LeaseManager
from vosync.poller.metrics import PollerMetrics
from vosync.poller.ondemand import OnDemandServer, Refusal
from vosync.poller.phone_details import DetailLimits, PhoneDetailTracker
from vosync.poller.publisher import ResultPublisher
from vosync.poller.schedule import first_delay, next_delay
from vosync.poller.vos_client import VosClient
from vosync.shared import bus
from vosync.shared.broker import VosyncBroker, make_broker
from vosync.shared.cache_key import cache_key, normalise_params
from vosync.shared.catalogue import ApiSpec, Projection
from vosync.shared.heartbeat import VosView, vos_views_json
from vosync.shared.instances import InstanceRecord
from vosync.shared.messages import FetchReason, FetchResult
from vosync.shared.ops_http import OpsServer
from vosync.shared.settings import Settings, SettingsError
from vosync.shared.singleflight import SingleFlight
from vosync.shared.tasks import cancel_and_wait

log = logging.getLogger(__name__)

# While an instance backs off, a skipped key looks again after at most this long (or its interval).
MIN_BACKOFF_RECHECK_S = 0.25
STOP_GRACE_S = 1.0

FlightKey = tuple[int, str]  # (instance_id, cache_key)
FetchAnswer = FetchResult | Refusal


@dataclass(slots=True)
class Schedules:
    """The schedule tasks of one owned instance; `stopped` ends them even if a cancel is lost."""

    tasks: list[asyncio.Task[None]]
    stopped: bool = False


@dataclass(slots=True)
class InstanceRuntime:
    """What one poller keeps per VOS instance it talks to (owned or served on demand)."""

    record: InstanceRecord
    client: VosClient
    semaphore: asyncio.Semaphore
    backoff: Backoff


RESULT_ENVELOPE_BYTES = 64 * 1024  # a result's fields besides the reply, its subject and headers


def check_max_payload(max_payload: int, settings: Settings) -> None:
    """Log the server's max_payload; refuse to start when a reply the settings allow could not be
    published (it would become a too_large failure every time instead of data)."""
    needed = settings.vos_max_reply_bytes + RESULT_ENVELOPE_BYTES
    log.info(
        "nats max_payload",
        extra={"max_payload": max_payload, "stream_max_msg_size": bus.MAX_MESSAGE_BYTES, "needed": needed},
    )
    if min(max_payload, bus.MAX_MESSAGE_BYTES) < needed:
        raise SettingsError(
            f"the NATS server's max_payload is {max_payload} bytes (stream limit {bus.MAX_MESSAGE_BYTES}),"
            f" below VOSYNC_VOS_MAX_REPLY_BYTES ({settings.vos_max_reply_bytes}) plus"
            f" {RESULT_ENVELOPE_BYTES} bytes for the result envelope: raise max_payload on the NATS"
            " server or lower VOSYNC_VOS_MAX_REPLY_BYTES"
        )


class PollerService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.poller_id = settings.poller_id
        self.metrics = PollerMetrics()
        self._specs: list[ApiSpec] = settings.catalogue.scheduled()
        self._detail_spec = settings.catalogue.by_projection(Projection.PHONE_DETAIL)
        self._detail_limits = DetailLimits(
            settings.phone_detail_batch_size,
            settings.phone_detail_max_per_poll,
            settings.phone_detail_refresh_per_poll,
        )
        self._phone_trackers: dict[int, PhoneDetailTracker] = {}
        self.metrics.vos.schedule({s.name: s.poll_interval_s or 0.0 for s in self._specs})
        self._runtimes: dict[int, InstanceRuntime] = {}
        self._schedules: dict[int, Schedules] = {}
        self._ending: set[asyncio.Task[None]] = set()  # cancelled schedule tasks not yet finished
        self._flights: SingleFlight[FlightKey, FetchAnswer] = SingleFlight(cancel_when_abandoned=True)
        self._background: set[asyncio.Task[Any]] = set()
        self._retired: set[VosClient] = set()  # replaced clients, closed after their calls' timeout
        self._ssl = ssl.create_default_context()  # one CA load, shared by every instance's client
        self._policy = BackoffPolicy(
            settings.backoff_after_failures, settings.backoff_base_s, settings.backoff_max_s
        )
        self._rng = random.Random()
        # Edges of each key's failures, not every poll; an edge also refreshes the heartbeat.
        self._failure_log = FailureLog(self.poller_id, on_edge=self._vos_view_changed)
        self._broker: VosyncBroker | None = None
        self._directory: WatchedInstances | None = None
        self._leases: LeaseManager | None = None
        self._publisher: ResultPublisher | None = None
        self._on_demand: OnDemandServer | None = None
        self._ops: OpsServer | None = None
        self.stopping = False
        self._started = False

    # -- accessors for tests and ops -----------------------------------------------------------
    @property
    def leases(self) -> LeaseManager:
        return _started(self._leases)

    @property
    def directory(self) -> WatchedInstances:
        return _started(self._directory)

    @property
    def publisher(self) -> ResultPublisher:
        return _started(self._publisher)

    @property
    def ops_port(self) -> int:
        return _started(self._ops).port

    def vos_views(self) -> dict[int, VosView]:
        """What this poller sees of each instance it holds the lease of (for its heartbeat)."""
        views: dict[int, VosView] = {}
        for instance_id in self._leases.owned_ids() if self._leases else set():
            runtime = self._runtimes.get(instance_id)
            views[instance_id] = VosView(
                backing_off=runtime is not None and runtime.backoff.backing_off,
                failing_since=self._failure_log.failing_since(instance_id),
                transport_failures=runtime.backoff.failures if runtime else 0,
            )
        return views

    def polling(self) -> set[int]:
        """Instances whose schedules run in this poller right now."""
        return {i for i, group in self._schedules.items() if any(not t.done() for t in group.tasks)}

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.stop()  # a half-started poller leaves nothing running
            raise

    async def _start(self) -> None:
        settings = self.settings
        # Probes answer from the first moment; /health/ready says 503 until start() is done.
        self._ops = OpsServer(settings.ops_host, settings.ops_port, self._ready, self.metrics.registry)
        await self._ops.start()
        self._broker = broker = make_broker(
            settings,
            f"vosync-poller-{self.poller_id}",
            registry=self.metrics.registry,
            on_reconnect=self._reconnected,
            description="keeps the VOS APIs of the instances it leases fresh; serves on-demand fetches",
        )
        await broker.connect()
        check_max_payload(broker.client.max_payload, settings)
        # Streams and buckets are declared with their full configurations by vosync.shared.bus (a
        # FastStream JStream / key_value declaration would overwrite them with its own).
        js = broker.client.jetstream()
        await bus.ensure_streams(js, settings)
        await bus.ensure_buckets(js, settings)
        leases_kv = await broker.key_value(bus.LEASES_BUCKET, declare=False)
        instances_kv = await broker.key_value(bus.INSTANCES_BUCKET, declare=False)
        ttl_s = (await leases_kv.status()).ttl or settings.lease_ttl_s
        if abs(ttl_s - settings.lease_ttl_s) > 1e-6:
            log.warning(
                "lease bucket TTL differs from VOSYNC_LEASE_TTL_S; using the bucket's",
                extra={"bucket_ttl_s": ttl_s, "setting_s": settings.lease_ttl_s},
            )

        async def repair_streams() -> None:
            await bus.ensure_streams(js, settings)

        self._publisher = ResultPublisher(
            broker,
            on_published=self.metrics.published.inc,
            on_dropped=self.metrics.publish_dropped.inc,
            repair=repair_streams,
            max_payload=lambda: broker.client.max_payload,
            on_too_large=lambda failure: self.metrics.too_large.labels(failure.api_name).inc(),
        )
        self._publisher.start()
        self.metrics.publish_backlog.set_function(lambda: self.publisher.pending)
        self._directory = WatchedInstances(instances_kv)
        self._directory.subscribe(self._instance_changed)
        await self._directory.start()
        self._leases = LeaseManager(
            leases_kv,
            poller_id=self.poller_id,
            ttl_s=ttl_s,
            enabled_ids=self._directory.enabled_ids,
            on_acquired=self._lease_acquired,
            on_released=self._lease_released,
            pinned=settings.poller_instances,
            heartbeat_extra=lambda: {"vos": vos_views_json(self.vos_views())},
        )
        self._on_demand = OnDemandServer(
            broker,
            catalogue=settings.catalogue,
            directory=self._directory,
            fetch=self._fetch,
            metrics=self.metrics,
            is_stopping=lambda: self.stopping,
            max_payload=lambda: broker.client.max_payload,
        )
        await broker.start()  # starts the on-demand subscriber (the broker's only one)
        await self._leases.start()
        self._started = True
        log.info(
            "poller started",
            extra={
                "poller_id": self.poller_id,
                "pinned": settings.poller_instances,
                "lease_ttl_s": ttl_s,
                "instances": len(self._directory.enabled_ids()),
                "owned": len(self._leases.owned_ids()),
                "apis": {s.name: s.poll_interval_s for s in self._specs},
            },
        )

    async def stop(self) -> None:
        """Stop polling, release leases (others take over at once), flush results; within ~4 s."""
        self.stopping = True
        if self._on_demand is not None:
            await self._on_demand.stop(STOP_GRACE_S)
        for instance_id in list(self._schedules):
            self._stop_schedules(instance_id)
        if self._leases is not None:
            await self._leases.stop()
        await cancel_and_wait(self._ending)
        await self._flights.cancel_all()
        if self._publisher is not None:
            await self._publisher.flush(1.5)
            await self._publisher.stop()
        if self._directory is not None:
            await self._directory.stop()
        await cancel_and_wait(self._background, 0.5)
        await self._close_clients()
        if self._ops is not None:
            await self._ops.stop()
        await self._close_nats()
        log.info("poller stopped", extra={"poller_id": self.poller_id})

    async def _close_clients(self) -> None:
        clients = [rt.client for rt in self._runtimes.values()] + list(self._retired)
        self._runtimes, self._retired = {}, set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)

    def _nats(self) -> NatsClient | None:
        if self._broker is None:
            return None
        try:
            return self._broker.client
        except RuntimeError:  # not connected
            return None

    async def _close_nats(self) -> None:
        """Stop the broker (draining the connection), then make sure the connection is closed."""
        connection = self._nats()
        broker, self._broker = self._broker, None
        if broker is None:
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await broker.stop()  # drains the connection
        if connection is not None and not connection.is_closed:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await connection.close()

    async def _ready(self) -> dict[str, bool]:
        return {
            "nats": (nc := self._nats()) is not None and nc.is_connected,
            "running": self._started and not self.stopping,
        }

    async def _reconnected(self) -> None:
        if self._leases is not None:
            self._leases.poke()
        if self._directory is not None:
            self._spawn(self._directory.resync())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- instances ---------------------------------------------------------------------------------
    def _instance_changed(self, instance_id: int, record: InstanceRecord | None) -> None:
        if record is None or not record.enabled:
            self._stop_schedules(instance_id)
            if self._leases is not None:
                self._leases.request_release(instance_id)
            runtime = self._runtimes.pop(instance_id, None)
            if runtime is not None:
                self._retire(runtime.client)
            self.metrics.vos.forget(instance_id)
            return
        runtime = self._runtimes.get(instance_id)
        if runtime is not None and (
            runtime.record.base_url != record.base_url or runtime.record.timeout_s != record.timeout_s
        ):
            self._retire(runtime.client)
            runtime.client = self._new_client(record)
        if runtime is not None:
            runtime.record = record
        if self._leases is not None:
            self._leases.poke()

    def _retire(self, client: VosClient) -> None:
        """Close a client once calls in flight on it (on-demand ones may be) have had their time."""
        self._retired.add(client)

        async def close_later() -> None:
            await asyncio.sleep(client.timeout_s + 1)
            self._retired.discard(client)
            await client.aclose()

        self._spawn(close_later())

    def _new_client(self, record: InstanceRecord) -> VosClient:
        return VosClient(
            record,
            default_timeout_s=self.settings.vos_timeout_s,
            max_connections=self.settings.vos_max_concurrency,
            poller_id=self.poller_id,
            verify=self._ssl,
            max_reply_bytes=self.settings.vos_max_reply_bytes,
        )

    def _runtime(self, instance_id: int) -> InstanceRuntime | None:
        """The runtime of an enabled instance, made on first use."""
        runtime = self._runtimes.get(instance_id)
        if runtime is not None:
            return runtime
        record = self.directory.get(instance_id)
        if record is None or not record.enabled or self.stopping:
            return None
        runtime = InstanceRuntime(
            record,
            self._new_client(record),
            asyncio.Semaphore(self.settings.vos_max_concurrency),
            Backoff(
                instance_id,
                self._policy,
                rng=self._rng,
                on_change=functools.partial(self._backoff_changed, instance_id),
            ),
        )
        self._runtimes[instance_id] = runtime
        return runtime

    def _backoff_changed(self, instance_id: int, backing_off: bool) -> None:
        self.metrics.backing_off.inc() if backing_off else self.metrics.backing_off.dec()
        self.metrics.vos.backing_off(instance_id, backing_off)
        self._vos_view_changed()

    def _vos_view_changed(self) -> None:
        if self._leases is not None:
            self._leases.heartbeat_soon()  # `vosync status` learns of the edge within a sweep

    # -- leases and schedules ------------------------------------------------------------------
    def _lease_acquired(self, instance_id: int, revision: int) -> None:
        self.metrics.lease_changes.labels("acquired").inc()
        self.metrics.owned_instances.set(len(self.leases.owned_ids()))
        if self._runtime(instance_id) is None:
            self.leases.request_release(instance_id)  # disabled or removed meanwhile
            return
        self._stop_schedules(instance_id)
        group = Schedules([])
        group.tasks = [
            asyncio.create_task(
                self._run_schedule(instance_id, spec, group), name=f"poll-{instance_id}-{spec.name}"
            )
            for spec in self._specs
        ]
        self._schedules[instance_id] = group

    def _lease_released(self, instance_id: int, reason: str) -> None:
        self._stop_schedules(instance_id)
        self._failure_log.forget(instance_id)
        self._phone_trackers.pop(instance_id, None)  # its next owner starts from its own memory
        self.metrics.vos.forget(instance_id)
        self.metrics.lease_changes.labels(reason).inc()
        self.metrics.owned_instances.set(len(self.leases.owned_ids()))

    def _stop_schedules(self, instance_id: int) -> None:
        """Stop polling the instance now: the tasks are cancelled at once and end in the background."""
        group = self._schedules.pop(instance_id, None)
        if group is None:
            return
        group.stopped = True
        for task in group.tasks:
            if not task.done():
                task.cancel()
                self._ending.add(task)
                task.add_done_callback(self._ending.discard)

    async def _run_schedule(self, instance_id: int, spec: ApiSpec, group: Schedules) -> None:
        interval = spec.poll_interval_s
        assert interval is not None
        loop = asyncio.get_running_loop()
        delay = first_delay(instance_id, spec.name, interval)
        while True:
            due = loop.time() + delay
            await asyncio.sleep(delay)
            if group.stopped:
                return
            self.metrics.schedule_lateness.observe(max(0.0, loop.time() - due))
            outcome, _joined = await self._fetch(instance_id, spec, {}, FetchReason.SCHEDULE)
            if spec.projection is Projection.PHONE_ONLINE and isinstance(outcome, FetchResult) and outcome.ok:
                await self._fetch_phone_details(instance_id, outcome, group)
            if isinstance(outcome, Refusal):
                if outcome.status == 404:
                    return  # the instance is gone; the lease goes with it
                self.metrics.skipped.labels(spec.name).inc()
                runtime = self._runtimes.get(instance_id)
                retry_in = runtime.backoff.retry_in() if runtime else interval
                delay = min(interval, max(retry_in, MIN_BACKOFF_RECHECK_S))
                delay *= 1 + self._rng.uniform(0, self.settings.poll_jitter)
            else:
                delay = next_delay(interval, self.settings.poll_jitter, self._rng)

    async def _fetch_phone_details(self, instance_id: int, listing: FetchResult, group: Schedules) -> None:
        """GetPhoneOnline for the new numbers and a bounded round-robin of known ones (phone_details),
        batch after batch (never more than one at a time per instance from here); every batch result
        is published like any other and projected by the writer."""
        spec = self._detail_spec
        if spec is None or self._detail_limits.max_per_poll == 0:
            return
        listed = (listing.response or {}).get("e164s")
        if not isinstance(listed, list):
            return
        tracker = self._phone_trackers.get(instance_id)
        if tracker is None:
            tracker = self._phone_trackers[instance_id] = PhoneDetailTracker(self._detail_limits)
        plan = tracker.plan(n for n in listed if isinstance(n, str) and n)
        failed = 0
        for batch in plan.batches:
            if group.stopped:
                return
            outcome, _joined = await self._fetch(instance_id, spec, {"e164s": batch}, FetchReason.SCHEDULE)
            if isinstance(outcome, FetchResult) and outcome.ok:
                tracker.answered(batch)
            else:
                failed += 1
                if isinstance(outcome, Refusal):
                    break  # backing off or gone: the rest waits for the next poll
        self.metrics.phone_details.labels("new").inc(plan.new)
        self.metrics.phone_details.labels("refreshed").inc(plan.refreshed)
        if plan.batches:
            # A routine refresh is not an event; new numbers, a backlog or failures are.
            level = logging.INFO if plan.new or plan.waiting or failed else logging.DEBUG
            log.log(
                level,
                "phone details fetched",
                extra={
                    "instance_id": instance_id,
                    "online": len(listed),
                    "new": plan.new,
                    "refreshed": plan.refreshed,
                    "waiting": plan.waiting,
                    "calls": len(plan.batches),
                    "failed_calls": failed,
                },
            )

    # -- one VOS call ----------------------------------------------------------------------------
    async def _fetch(
        self, instance_id: int, spec: ApiSpec, params: dict[str, Any], reason: FetchReason
    ) -> tuple[FetchAnswer, bool]:
        """The outcome of the VOS call for this key, shared with any call of the key in flight."""
        # Empty list filters dropped before keying and calling VOS (a `vos.fetch` may come from any
        # client, not only the api, which normalises too).
        params = normalise_params(spec.name, params)
        key = (instance_id, cache_key(spec.path, params))
        return await self._flights.do(key, lambda: self._call(instance_id, spec, params, reason))

    async def _call(
        self, instance_id: int, spec: ApiSpec, params: dict[str, Any], reason: FetchReason
    ) -> FetchAnswer:
        runtime = self._runtime(instance_id)
        if runtime is None:
            return Refusal(404, f"instance {instance_id} is unknown or disabled")
        if not runtime.backoff.try_acquire():
            return Refusal(
                503,
                f"instance {instance_id} is backing off after {runtime.backoff.failures} transport "
                f"failures; retry in {runtime.backoff.retry_in():.1f} s",
            )
        try:
            async with runtime.semaphore:
                revision = self._leases.revision(instance_id) if self._leases else None
                call = await runtime.client.fetch(spec, params, reason=reason, lease_revision=revision)
        except BaseException:
            runtime.backoff.abandon()
            raise
        runtime.backoff.record(call.transport_failure)
        result = call.result
        self.metrics.polls.labels(spec.name, result.error_kind.value if result.error_kind else "ok").inc()
        self.metrics.vos_latency.labels(spec.name).observe(result.duration_ms / 1000)
        failure = result.error_kind.value if result.error_kind else None
        self.metrics.vos.call(instance_id, spec.name, result.duration_ms / 1000, failure, time.time())
        self._failure_log.observe(result)
        self.publisher.submit(result)
        return result


_Part = TypeVar("_Part")


def _started(part: _Part | None) -> _Part:
    assert part is not None, "start() first"
    return part
