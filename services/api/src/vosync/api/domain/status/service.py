"""The status of the whole system, for `vosync status`: one SQL statement for the instances and the
outbox, the lease bucket for the pollers' heartbeats, and the writers' consumer on VOS_RESULTS.

Each NATS read is bounded (NATS_TIMEOUT_S) and its failure becomes a problem in the reply, never an
error: status is what an operator asks for when something is wrong. Without the database there is
no instance list, and the reply is a 503 (vosync.api.lib.errors).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from nats.errors import Error as NatsError
from nats.js.api import ConsumerInfo
from nats.js.errors import NotFoundError
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from vosync.api.domain.health.service import HealthService
from vosync.api.domain.status.schemas import (
    InstanceStatus,
    PollerStatus,
    ServicesStatus,
    StatusReply,
    WriterStatus,
)
from vosync.api.domain.status.state import CacheFailures, decide
from vosync.api.lib.jsonutil import seconds_since
from vosync.shared import bus
from vosync.shared.broker import VosyncBroker
from vosync.shared.cache_key import cache_key
from vosync.shared.catalogue import Projection, gateway_apis
from vosync.shared.heartbeat import PollerHeartbeat, VosView
from vosync.shared.kv import snapshot

log = logging.getLogger(__name__)
T = TypeVar("T")

NATS_TIMEOUT_S = 2.0
LEASE_PREFIX = "instance."
HEARTBEAT_PREFIX = "poller."


def _keys(projection: Projection) -> list[str]:
    """The unfiltered fetches feeding `projection`, one per gateway type (the catalogue says which)."""
    return [cache_key(spec.path, {}) for spec in gateway_apis(projection).values()]


CONFIG_KEYS = _keys(Projection.GATEWAY_CONFIG)
ONLINE_KEYS = _keys(Projection.GATEWAY_ONLINE)

# Per instance, in one statement: gateway counts, and over the cache rows of the scheduled polls
# (default params) the freshness of the gateway lists and the calls whose last attempt failed
# (a success clears error_kind). The older of a pair is the list's age; null until both succeeded.
_INSTANCES_SQL = text(
    """
    SELECT i.id, i.name, i.enabled,
           coalesce(g.total, 0) AS gateways_total, coalesce(g.online, 0) AS gateways_online,
           coalesce(c.rows, 0) AS cache_rows, c.config_synced_at, c.online_synced_at,
           c.failing_apis, c.no_success_since, c.last_error
    FROM vos_instances i
    LEFT JOIN LATERAL (
        SELECT count(*) AS total, count(*) FILTER (WHERE is_online) AS online
        FROM gateway_rows WHERE vos_instance_id = i.id
    ) g ON true
    LEFT JOIN LATERAL (
        SELECT count(*) AS rows,
               CASE WHEN count(synced_at) FILTER (WHERE cache_key = ANY(:config_keys)) = 2
                    THEN min(synced_at) FILTER (WHERE cache_key = ANY(:config_keys)) END
                 AS config_synced_at,
               CASE WHEN count(synced_at) FILTER (WHERE cache_key = ANY(:online_keys)) = 2
                    THEN min(synced_at) FILTER (WHERE cache_key = ANY(:online_keys)) END
                 AS online_synced_at,
               array_agg(api_name ORDER BY api_name) FILTER (WHERE error_kind IS NOT NULL)
                 AS failing_apis,
               min(coalesce(synced_at, created_at)) FILTER (WHERE error_kind IS NOT NULL)
                 AS no_success_since,
               (array_agg(api_name || ': ' || coalesce(error_message, error_kind)
                          ORDER BY last_error_at DESC NULLS LAST)
                  FILTER (WHERE error_kind IS NOT NULL))[1] AS last_error
        FROM vos_data_cache
        WHERE vos_instance_id = i.id AND query_params = '{}'::jsonb
    ) c ON true
    ORDER BY i.id
    """
).bindparams(bindparam("config_keys", CONFIG_KEYS), bindparam("online_keys", ONLINE_KEYS))

_OUTBOX_SQL = text("SELECT count(*) FROM gateway_event_outbox WHERE published_at IS NULL AND dead_at IS NULL")


@dataclass(frozen=True, slots=True)
class Consumer:
    info: ConsumerInfo | None  # None: the consumer does not exist (no writer has ever started)


@dataclass(frozen=True, slots=True)
class Leases:
    owners: dict[int, str]  # instance id -> the poller holding its lease
    heartbeats: dict[str, PollerHeartbeat]  # poller id -> its heartbeat

    def view(self, instance_id: int) -> VosView | None:
        owner = self.owners.get(instance_id)
        heartbeat = self.heartbeats.get(owner) if owner is not None else None
        return heartbeat.vos.get(instance_id) if heartbeat is not None else None


def read_leases(entries: dict[str, bytes | None]) -> Leases:
    owners: dict[int, str] = {}
    heartbeats: dict[str, PollerHeartbeat] = {}
    for key, value in entries.items():
        if key.startswith(LEASE_PREFIX):
            with contextlib.suppress(ValueError):
                owners[int(key.removeprefix(LEASE_PREFIX))] = (value or b"").decode("utf-8", "replace")
        elif key.startswith(HEARTBEAT_PREFIX):
            heartbeat = PollerHeartbeat.parse(key.removeprefix(HEARTBEAT_PREFIX), value)
            heartbeats[heartbeat.poller_id] = heartbeat
    return Leases(owners, heartbeats)


class StatusService:
    def __init__(self, engine: AsyncEngine, broker: VosyncBroker, health: HealthService) -> None:
        self._engine = engine
        self._broker = broker
        self._health = health

    async def status(self) -> StatusReply:
        problems: list[str] = []
        checks, leases, consumer = await asyncio.gather(
            self._health.checks(),
            self._nats("the pollers' heartbeats (KV vosync_leases)", self._leases, problems),
            self._nats("the writers' consumer on VOS_RESULTS", self._consumer, problems),
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(_INSTANCES_SQL)).all()
            outbox = int((await conn.execute(_OUTBOX_SQL)).scalar_one())
        now = datetime.now(UTC)
        instances = []
        for row in rows:
            view = leases.view(row.id) if leases else None
            failing = tuple(row.failing_apis or ())
            decision = decide(row.enabled, view, CacheFailures(row.cache_rows, failing, row.no_success_since))
            instances.append(
                InstanceStatus(
                    id=row.id,
                    name=row.name,
                    enabled=row.enabled,
                    vos_state=decision.state.value,
                    failing_since=decision.since,
                    state_source=decision.source,
                    failing_apis=list(failing),
                    last_error=row.last_error,
                    poller_id=leases.owners.get(row.id) if leases else None,
                    config_synced_at=row.config_synced_at,
                    config_age_s=seconds_since(row.config_synced_at, now),
                    online_synced_at=row.online_synced_at,
                    online_age_s=seconds_since(row.online_synced_at, now),
                    gateways_online=row.gateways_online,
                    gateways_total=row.gateways_total,
                )
            )
        degraded = [name for name, up in checks.items() if not up]
        return StatusReply(
            checked_at=now,
            instances=instances,
            services=ServicesStatus(
                api="degraded" if degraded else "ok",
                api_checks=checks,
                pollers=PollerStatus(up=len(leases.heartbeats), ids=sorted(leases.heartbeats))
                if leases
                else None,
                writers=_writers(consumer, outbox),
                problems=problems,
            ),
        )

    async def _nats(
        self, what: str, read: Callable[[], Coroutine[Any, Any, T]], problems: list[str]
    ) -> T | None:
        try:
            async with asyncio.timeout(NATS_TIMEOUT_S):
                return await read()
        except (NatsError, TimeoutError, OSError, RuntimeError) as exc:  # RuntimeError: not connected
            problems.append(f"could not read {what}: {exc!r}")
            log.warning("status: nats read failed", extra={"what": what, "error": repr(exc)})
            return None

    async def _leases(self) -> Leases:
        js = self._broker.client.jetstream(timeout=NATS_TIMEOUT_S)
        try:
            kv = await js.key_value(bus.LEASES_BUCKET)
        except NotFoundError:  # no poller has ever started
            return Leases({}, {})
        entries = await snapshot(kv, timeout_s=NATS_TIMEOUT_S)
        return read_leases({key: entry.value for key, entry in entries.items()})

    async def _consumer(self) -> Consumer:
        js = self._broker.client.jetstream(timeout=NATS_TIMEOUT_S)
        try:
            return Consumer(await js.consumer_info(bus.RESULTS_STREAM, bus.WRITER_DURABLE))
        except NotFoundError:
            return Consumer(None)


def _writers(consumer: Consumer | None, outbox: int) -> WriterStatus:
    if consumer is None:  # NATS could not be asked
        return WriterStatus(None, None, None, None, outbox)
    info = consumer.info
    if info is None:
        return WriterStatus(False, 0, None, None, outbox)
    waiting = info.num_waiting or 0
    ack_pending = info.num_ack_pending or 0
    return WriterStatus(waiting > 0 or ack_pending > 0, waiting, info.num_pending or 0, ack_pending, outbox)
