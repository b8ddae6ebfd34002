"""The outbox relay: committed transitions → `gateway.online.<instance>.<type>` on GATEWAY_EVENTS.

Each round, inside one transaction: take the relay lock (one relay at a time across all writers, so
rows go out in id order), read the oldest unpublished rows (FOR UPDATE SKIP LOCKED), publish them
with `Nats-Msg-Id` = outbox id, wait for every JetStream ack, mark them published, commit. A crash
between publish and commit republishes the same ids, which the stream's duplicate window drops; a
failed publish rolls back and is retried. The relay runs after every commit that wrote events, and
every second anyway (catch-up after a restart, rows of other writers).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable
from typing import Any

import asyncpg
from faststream.nats import NatsBroker

from vosync.shared.channels import GATEWAY_ONLINE, MSG_ID_HEADER
from vosync.shared.messages import GatewayOnlineEvent
from vosync.writer.metrics import WriterMetrics

log = logging.getLogger(__name__)

RELAY_LOCK = (771_800, 0)
CHUNK_ROWS = 500
CONCURRENT_PUBLISHES = 64
POLL_S = 1.0
PUBLISH_TIMEOUT_S = 5.0

TAKE = """
    SELECT id, vos_instance_id, gateway_type, gateway_name, payload
    FROM gateway_event_outbox
    WHERE published_at IS NULL
    ORDER BY id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
"""
MARK = "UPDATE gateway_event_outbox SET published_at = now() WHERE id = ANY($1::bigint[])"
BACKLOG = "SELECT count(*) FROM gateway_event_outbox WHERE published_at IS NULL"


def event_message(record: Any) -> tuple[str, bytes, dict[str, str]]:
    payload = record["payload"]
    data = json.loads(payload) if isinstance(payload, str) else dict(payload)
    event = GatewayOnlineEvent.model_validate({**data, "event_id": record["id"]})
    body, headers = GATEWAY_ONLINE.encode(event, **{MSG_ID_HEADER: str(record["id"])})
    subject = GATEWAY_ONLINE.subject(
        instance_id=record["vos_instance_id"], gateway_type=record["gateway_type"]
    )
    return subject, body, headers


class OutboxRelay:
    def __init__(self, pool: asyncpg.Pool, broker: NatsBroker, metrics: WriterMetrics) -> None:
        self._pool = pool
        self._broker = broker
        self._metrics = metrics
        self._wake = asyncio.Event()
        self._failing_since: float | None = None

    def kick(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        delay = 0.2
        while not stop.is_set():
            self._wake.clear()
            try:
                published = await self.publish_pending()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # PostgreSQL or NATS away: retry with backoff
                self._failing(exc)
                await _wait_any(stop, self._wake, delay)
                delay = min(delay * 2, 5.0)
                continue
            self._recovered()
            delay = 0.2
            if published:
                continue
            await _wait_any(stop, self._wake, POLL_S)

    async def publish_pending(self) -> int:
        """Publish every unpublished row; returns how many went out."""
        total = 0
        while True:
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *RELAY_LOCK)
                rows = await conn.fetch(TAKE, CHUNK_ROWS)
                if rows:
                    await self._publish(rows)
                    await conn.execute(MARK, [r["id"] for r in rows])
                backlog = await conn.fetchval(BACKLOG) - len(rows)
            self._metrics.outbox_backlog.set(max(backlog, 0))
            total += len(rows)
            self._metrics.events_published.inc(len(rows))
            if len(rows) < CHUNK_ROWS:
                return total

    async def _publish(self, rows: list[Any]) -> None:
        """In id order; publishes overlap, but never two of one gateway at once (its order holds)."""
        pending: list[Awaitable[Any]] = []
        gateways: set[tuple[int, str, str]] = set()
        for row in rows:
            gateway = (row["vos_instance_id"], row["gateway_type"], row["gateway_name"])
            if gateway in gateways or len(pending) >= CONCURRENT_PUBLISHES:
                await _all_acked(pending)
                pending, gateways = [], set()
            subject, body, headers = event_message(row)
            gateways.add(gateway)
            pending.append(
                asyncio.ensure_future(
                    self._broker.publish(
                        body,
                        subject,
                        headers=headers,
                        stream=GATEWAY_ONLINE.stream,
                        timeout=PUBLISH_TIMEOUT_S,
                    )
                )
            )
        await _all_acked(pending)

    def _failing(self, exc: BaseException) -> None:
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            log.warning("outbox relay failing; retrying", extra={"error": repr(exc)})

    def _recovered(self) -> None:
        if self._failing_since is not None:
            log.info(
                "outbox relay publishing again",
                extra={"after_s": round(time.monotonic() - self._failing_since, 1)},
            )
            self._failing_since = None


async def _all_acked(pending: list[Awaitable[Any]]) -> None:
    for outcome in await asyncio.gather(*pending, return_exceptions=True):
        if isinstance(outcome, BaseException):
            raise outcome


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*waiters, return_exceptions=True)
