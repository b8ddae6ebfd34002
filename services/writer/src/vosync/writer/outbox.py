"""The outbox relay: committed transitions → `gateway.online.<instance>.<type>` (and, for rows of
entity 'phone', `phone.online.<instance>`) on GATEWAY_EVENTS.

Each round, inside one transaction: take the relay lock (one relay at a time across all writers, so
rows go out in id order), read the oldest unpublished rows (FOR UPDATE SKIP LOCKED), publish them
with `Nats-Msg-Id` = outbox id, wait for every JetStream ack, mark them published, commit. A crash
between publish and commit republishes the same ids, which the stream's duplicate window drops; a
failed publish rolls back and is retried. The relay runs after every commit that wrote events, and
every second anyway (catch-up after a restart, rows of other writers).

A row that can never become an event (its payload fails validation or encoding) is not retried: in
the same transaction it is copied to the dead-letter stream (`vos.dead.gateway.online.<inst>.<type>`,
stage `outbox`, with the reason) and marked (`dead_at`, `dead_reason`), and the rows after it go out.
Retrying it would hold the head of the relay, and so every later event, for ever.
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

from vosync.shared.bus import dead_letter_subject
from vosync.shared.channels import (
    DEAD_LETTER,
    DEAD_REASON_HEADER,
    DEAD_STAGE_HEADER,
    DEAD_SUBJECT_HEADER,
    GATEWAY_ONLINE,
    MSG_ID_HEADER,
    PHONE_ONLINE,
)
from vosync.shared.messages import GatewayOnlineEvent, PhoneOnlineEvent
from vosync.writer.metrics import WriterMetrics

log = logging.getLogger(__name__)

RELAY_LOCK = (771_800, 0)
CHUNK_ROWS = 500
CONCURRENT_PUBLISHES = 64
POLL_S = 1.0
PUBLISH_TIMEOUT_S = 5.0

TAKE = """
    SELECT id, entity, vos_instance_id, gateway_type, gateway_name, payload
    FROM gateway_event_outbox
    WHERE published_at IS NULL AND dead_at IS NULL
    ORDER BY id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
"""
MARK = "UPDATE gateway_event_outbox SET published_at = now() WHERE id = ANY($1::bigint[])"
MARK_DEAD = """
    UPDATE gateway_event_outbox AS o SET dead_at = now(), dead_reason = d.reason
    FROM unnest($1::bigint[], $2::text[]) AS d(id, reason)
    WHERE o.id = d.id
"""
BACKLOG = "SELECT count(*) FROM gateway_event_outbox WHERE published_at IS NULL AND dead_at IS NULL"
DEAD_STAGE = "outbox"
PHONE_ENTITY = "phone"


def event_message(record: Any) -> tuple[str, bytes, dict[str, str]]:
    payload = record["payload"]
    data = json.loads(payload) if isinstance(payload, str) else dict(payload)
    if record["entity"] == PHONE_ENTITY:
        phone = PhoneOnlineEvent.model_validate({**data, "event_id": record["id"]})
        body, headers = PHONE_ONLINE.encode(phone, **{MSG_ID_HEADER: str(record["id"])})
        return PHONE_ONLINE.subject(instance_id=record["vos_instance_id"]), body, headers
    event = GatewayOnlineEvent.model_validate({**data, "event_id": record["id"]})
    body, headers = GATEWAY_ONLINE.encode(event, **{MSG_ID_HEADER: str(record["id"])})
    subject = GATEWAY_ONLINE.subject(
        instance_id=record["vos_instance_id"], gateway_type=record["gateway_type"]
    )
    return subject, body, headers


def _one_line(text: str, limit: int = 1000) -> str:
    return " ".join(text.split())[:limit] or "-"


def dead_message(record: Any, reason: str) -> tuple[str, bytes, dict[str, str]]:
    """The dead-letter copy of a row: its payload as stored, the reason, where it was going."""
    payload = record["payload"]
    body = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
    # The row's own type may be what is wrong with it: a subject token is made of it safely.
    kind = "".join(c for c in str(record["gateway_type"]) if c.isalnum() or c in "-_") or "unknown"
    subject = f"gateway.online.{record['vos_instance_id']}.{kind}"
    if record["entity"] == PHONE_ENTITY:
        subject = f"phone.online.{record['vos_instance_id']}"
    headers = {
        DEAD_REASON_HEADER: _one_line(reason),
        DEAD_STAGE_HEADER: DEAD_STAGE,
        DEAD_SUBJECT_HEADER: subject,
        MSG_ID_HEADER: f"dead.outbox.{record['id']}",  # set aside twice (a crash before commit): stored once
    }
    return dead_letter_subject(subject), body, headers


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
                dead: list[tuple[Any, str]] = []
                if rows:
                    dead = await self._publish(rows)
                    await self._set_aside(conn, dead)
                    published = [r["id"] for r in rows if r["id"] not in {row["id"] for row, _ in dead}]
                    await conn.execute(MARK, published)
                backlog = await conn.fetchval(BACKLOG) - len(rows)
            self._metrics.outbox_backlog.set(max(backlog, 0))
            total += len(rows) - len(dead)
            self._metrics.events_published.inc(len(rows) - len(dead))
            if len(rows) < CHUNK_ROWS:
                return total

    async def _set_aside(self, conn: asyncpg.Connection, dead: list[tuple[Any, str]]) -> None:
        """Dead-letter and mark the rows that cannot become events (in the relay's transaction: the
        mark commits only once the copy is acknowledged, and a failed copy retries the round)."""
        if not dead:
            return
        for row, reason in dead:
            subject, body, headers = dead_message(row, reason)
            await self._broker.publish(
                body, subject, headers=headers, stream=DEAD_LETTER.stream, timeout=PUBLISH_TIMEOUT_S
            )
        await conn.execute(MARK_DEAD, [row["id"] for row, _ in dead], [reason for _, reason in dead])
        self._metrics.dead_lettered.labels(DEAD_STAGE).inc(len(dead))
        for row, reason in dead:
            log.error(
                "outbox row cannot be published; set aside",
                extra={"outbox_id": row["id"], "reason": _one_line(reason)},
            )

    async def _publish(self, rows: list[Any]) -> list[tuple[Any, str]]:
        """In id order; publishes overlap, but never two of one gateway at once (its order holds).
        Returns the rows that could not be made into an event, with the reason."""
        pending: list[Awaitable[Any]] = []
        gateways: set[tuple[str, int, str, str]] = set()
        dead: list[tuple[Any, str]] = []
        for row in rows:
            gateway = (row["entity"], row["vos_instance_id"], row["gateway_type"], row["gateway_name"])
            if gateway in gateways or len(pending) >= CONCURRENT_PUBLISHES:
                await _all_acked(pending)
                pending, gateways = [], set()
            try:
                subject, body, headers = event_message(row)
            except (ValueError, TypeError, KeyError) as exc:  # pydantic's ValidationError is a ValueError
                dead.append((row, f"{type(exc).__name__}: {exc}"))
                continue
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
        return dead

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
