"""The writers' durable pull consumer `writer` on VOS_RESULTS.

- Fetch: wait for one message, then take whatever else is queued (up to the batch size), so an idle
  writer answers at once and a writer that is behind writes a whole batch in one transaction.
- Malformed (not a FetchResult) or unstorable messages go to the dead-letter stream at once.
- Apply the batch in one transaction, ack every message after the commit.
- PostgreSQL unavailable (connection refused or lost, restarting, deadlock victim): the batch is
  held and retried with backoff, its messages kept alive with in-progress acks; nothing is nacked,
  so an outage never uses up deliveries.
- Any other failure: the batch is retried one message at a time, so one bad result cannot poison
  the others; a message that fails alone is nacked with a delay, and on its last delivery
  (max_deliver) it goes to the dead-letter stream with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from vosync.shared import bus
from vosync.shared.codec import decode_result_lazily
from vosync.shared.gc_pause import gc_paused
from vosync.shared.messages import FetchResult
from vosync.shared.settings import Settings
from vosync.writer.apply import BatchApplier, BatchReport
from vosync.writer.db import is_transient
from vosync.writer.dead_letter import DeadLetters
from vosync.writer.metrics import WriterMetrics, api_label
from vosync.writer.results import InvalidResult, checked

log = logging.getLogger(__name__)

IDLE_FETCH_S = 1.0  # how long one fetch waits on an idle stream (bounds how fast stop() is noticed)
COALESCE_S = 0.05  # after the first message, how long to wait for more to fill the batch
HOLD_BACKOFF_MAX_S = 5.0

T = TypeVar("T")


class Stopping(Exception):
    """The service is stopping while a batch waits for the database."""


class ResultConsumer:
    def __init__(
        self,
        settings: Settings,
        js: JetStreamContext,
        applier: BatchApplier,
        dead_letters: DeadLetters,
        metrics: WriterMetrics,
        after_commit: Callable[[BatchReport], Awaitable[None]],
    ) -> None:
        self._settings = settings
        self._js = js
        self._applier = applier
        self._dead = dead_letters
        self._metrics = metrics
        self._after_commit = after_commit
        self._sub: JetStreamContext.PullSubscription | None = None
        self._stop = asyncio.Event()
        self._fetch_failing_since: float | None = None
        self._db_down_since: float | None = None

    async def bind(self) -> None:
        await bus.ensure_writer_consumer(self._js, self._settings)
        self._sub = await self._js.pull_subscribe_bind(bus.WRITER_DURABLE, bus.RESULTS_STREAM)

    async def unbind(self) -> None:
        if self._sub is not None:
            sub, self._sub = self._sub, None
            try:
                await sub.unsubscribe()
            except Exception as exc:  # the connection may already be gone
                log.debug("unsubscribe failed", extra={"error": repr(exc)})

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set: fetch, apply, ack. The batch in hand is always finished."""
        self._stop = stop
        while not stop.is_set():
            try:
                msgs = await self._next_batch()
            except TimeoutError:
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS restarting, consumer gone: wait and bind again
                await self._fetch_failed(exc)
                continue
            self._fetch_recovered()
            if not msgs:
                continue
            try:
                await self.handle(msgs)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not stop consumption: the messages come back by ack_wait
                log.exception(
                    "batch handling failed; its messages will be redelivered", extra={"size": len(msgs)}
                )

    async def _next_batch(self) -> list[Msg]:
        if self._sub is None:
            await self.bind()
        assert self._sub is not None
        first = await self._sub.fetch(1, timeout=IDLE_FETCH_S)
        size = self._settings.writer_batch_size
        if size <= 1 or (first and first[0].metadata.num_pending == 0):
            return first  # nothing else queued: coalescing would only add COALESCE_S of latency
        try:
            more = await self._sub.fetch(size - 1, timeout=COALESCE_S)
        except TimeoutError:
            more = []
        return first + more

    async def handle(self, msgs: list[Msg]) -> None:
        self._metrics.batch_size.observe(len(msgs))
        self._metrics.consumer_pending.set(msgs[-1].metadata.num_pending)
        decoded: list[tuple[Msg, FetchResult]] = []
        for msg in msgs:
            try:
                with gc_paused():  # a reply can decode into millions of objects: see gc_pause
                    result = checked(decode_result_lazily(msg.data, msg.headers))
            except InvalidResult as exc:
                await self._dead.send(msg, "invalid", str(exc))
            except Exception as exc:
                await self._dead.send(msg, "decode", f"not a FetchResult: {type(exc).__name__}: {exc}")
            else:
                decoded.append((msg, result))
        if decoded:
            await self._apply(decoded)

    async def _apply(self, decoded: list[tuple[Msg, FetchResult]]) -> None:
        msgs = [m for m, _ in decoded]
        started = time.perf_counter()
        try:
            report = await self._until_db_answers(lambda: self._applier.apply([r for _, r in decoded]), msgs)
        except Stopping:
            return
        except Exception as exc:
            if len(decoded) > 1:
                log.warning(
                    "batch failed; applying its messages one by one",
                    extra={"size": len(decoded), "error": repr(exc)},
                )
                await self._apply_one_by_one(decoded)
            else:
                await self._failed(*decoded[0], exc)
            return
        self._metrics.batch_seconds.observe(time.perf_counter() - started)
        await self._ack(msgs)
        await self._after_commit(report)

    async def _apply_one_by_one(self, decoded: list[tuple[Msg, FetchResult]]) -> None:
        for index, (msg, result) in enumerate(decoded):
            try:
                report = await self._until_db_answers(functools.partial(self._applier.apply, [result]), [msg])
            except Stopping:
                await self._nak([m for m, _ in decoded[index + 1 :]])
                return
            except Exception as exc:
                await self._failed(msg, result, exc)
                continue
            await self._ack([msg])
            await self._after_commit(report)

    async def _failed(self, msg: Msg, result: FetchResult, exc: BaseException) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        deliveries = msg.metadata.num_delivered
        if deliveries >= self._settings.writer_max_deliver:
            if await self._dead.send(msg, "apply", reason):
                self._metrics.results.labels(
                    api_label(self._settings.catalogue, result.api_name), "dead_lettered"
                ).inc()
            return
        log.warning(
            "result failed; redelivery later",
            extra={
                "instance_id": result.instance_id,
                "api": result.api_name,
                "deliveries": deliveries,
                "error": reason,
            },
        )
        await self._nak([msg])

    async def _until_db_answers(self, attempt: Callable[[], Awaitable[T]], msgs: list[Msg]) -> T:
        """Run `attempt`; while PostgreSQL is unavailable keep the messages alive and try again."""
        delay = 0.25
        last_touch = time.monotonic()
        touch_every = max(self._settings.writer_ack_wait_s / 3, 0.5)
        while True:
            try:
                with gc_paused():  # not while waiting for the database below: only the work itself
                    outcome = await attempt()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self._metrics.db_unavailable.inc()
                if self._db_down_since is None:
                    self._db_down_since = time.monotonic()
                    log.warning(
                        "database unavailable; holding the batch",
                        extra={"size": len(msgs), "error": repr(exc)},
                    )
            else:
                if self._db_down_since is not None:
                    log.info(
                        "database back; batch applied",
                        extra={"after_s": round(time.monotonic() - self._db_down_since, 1)},
                    )
                    self._db_down_since = None
                return outcome
            if self._stop.is_set():
                await self._nak(msgs)
                raise Stopping
            if time.monotonic() - last_touch >= touch_every:
                await self._in_progress(msgs)
                last_touch = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
            delay = min(delay * 2, HOLD_BACKOFF_MAX_S)

    async def _ack(self, msgs: list[Msg]) -> None:
        for msg in msgs:
            try:
                await msg.ack()
            except Exception as exc:  # not acked: redelivered later, and applying it again is harmless
                log.debug("ack failed", extra={"error": repr(exc)})

    async def _nak(self, msgs: list[Msg]) -> None:
        for msg in msgs:
            try:
                await msg.nak(delay=self._settings.writer_nak_delay_s)
                self._metrics.naks.inc()
            except Exception as exc:
                log.debug("nak failed", extra={"error": repr(exc)})

    async def _in_progress(self, msgs: list[Msg]) -> None:
        for msg in msgs:
            try:
                await msg.in_progress()
            except Exception as exc:
                log.debug("in-progress ack failed", extra={"error": repr(exc)})

    async def _fetch_failed(self, exc: BaseException) -> None:
        if self._fetch_failing_since is None:
            self._fetch_failing_since = time.monotonic()
            log.warning("fetching results failing; retrying", extra={"error": repr(exc)})
        await self.unbind()  # bind again next time: the consumer or the stream may have been recreated
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), 0.5)

    def _fetch_recovered(self) -> None:
        if self._fetch_failing_since is not None:
            log.info(
                "fetching results again",
                extra={"after_s": round(time.monotonic() - self._fetch_failing_since, 1)},
            )
            self._fetch_failing_since = None
