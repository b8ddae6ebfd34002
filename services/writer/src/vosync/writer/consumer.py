"""The writers' durable pull consumer `writer` on VOS_RESULTS, a FastStream JetStream pull subscriber.

- Fetch: FastStream pulls up to the batch size, returning as soon as anything is there, so an idle
  writer answers at once and a writer that is behind gets a whole batch; `PullGroups` turns the
  messages of one pull back into one batch, written in one transaction.
- Decode: the RESULTS channel's codec is the subscriber's decoder (lazily: the reply is not parsed).
- Malformed (not a FetchResult) or unstorable messages go to the dead-letter stream at once.
- Apply the batch in one transaction, ack every message after the commit (`AckPolicy.MANUAL`: every
  ack, nack, in-progress and term below is the consumer's own decision, never FastStream's).
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
from dataclasses import dataclass
from typing import Any, TypeVar

from faststream.middlewares import AckPolicy
from faststream.nats import NatsBroker, PullSub
from faststream.nats import annotations as fs
from faststream.nats.message import NatsMessage
from faststream.nats.subscriber.usecases.stream_pull_subscriber import PullStreamSubscriber
from nats.aio.msg import Msg

from vosync.shared import bus, channels
from vosync.shared.codec import decode_result_lazily
from vosync.shared.gc_pause import gc_paused
from vosync.shared.messages import FetchResult
from vosync.shared.settings import Settings
from vosync.writer.apply import BatchApplier, BatchReport
from vosync.writer.db import is_transient
from vosync.writer.dead_letter import DeadLetters
from vosync.writer.metrics import WriterMetrics, api_label
from vosync.writer.pull_groups import PullGroups
from vosync.writer.results import InvalidResult, checked

log = logging.getLogger(__name__)

IDLE_FETCH_S = 1.0  # how long one pull waits on an idle stream (bounds how fast stop() is noticed)
HOLD_BACKOFF_MAX_S = 5.0

T = TypeVar("T")


class Stopping(Exception):
    """The service is stopping while a batch waits for the database."""


@dataclass(frozen=True, slots=True)
class Decoded:
    """What the decoder makes of one pulled message: the result, or why it is not one. It does not
    hold the message: FastStream keeps the decoded body on the message, and a cycle between the two
    would keep a large reply alive until the next full garbage collection."""

    result: FetchResult | None = None
    stage: str = ""  # when result is None: "decode" (not a FetchResult) or "invalid" (cannot be stored)
    problem: str = ""


@dataclass(frozen=True, slots=True)
class Received:
    message: NatsMessage
    decoded: Decoded


async def decode_received(message: NatsMessage) -> Decoded:
    """The subscriber's decoder: RESULTS' codec, lazily; never raises, so a malformed message reaches
    the handler and is dead-lettered at once instead of being redelivered until max_deliver."""
    try:
        with gc_paused():  # a reply can decode into millions of objects: see gc_pause
            result = checked(decode_result_lazily(message.body, message.headers))
    except InvalidResult as exc:
        return Decoded(stage="invalid", problem=str(exc))
    except Exception as exc:
        return Decoded(stage="decode", problem=f"not a FetchResult: {type(exc).__name__}: {exc}")
    return Decoded(result)


class ResultConsumer:
    def __init__(
        self,
        settings: Settings,
        applier: BatchApplier,
        dead_letters: DeadLetters,
        metrics: WriterMetrics,
        after_commit: Callable[[BatchReport], Awaitable[None]],
        stop: asyncio.Event,
    ) -> None:
        self._settings = settings
        self._applier = applier
        self._dead = dead_letters
        self._metrics = metrics
        self._after_commit = after_commit
        self._stop = stop
        self._groups: PullGroups[Received] = PullGroups(self.handle)
        self._sub: PullStreamSubscriber | None = None
        self._db_down_since: float | None = None
        self._closing = False

    def declare(self, broker: NatsBroker) -> None:
        """The subscriber on the broker; it binds to the durable when the broker starts (the durable
        itself, with its limits, is declared by bus.ensure_writer_consumer beforehand)."""
        settings = self._settings
        self._sub = broker.subscriber(
            channels.RESULTS.stream_subject,
            stream=channels.RESULTS.jstream(),
            durable=channels.WRITER_DURABLE,
            config=bus.writer_consumer_config(settings),
            pull_sub=PullSub(batch_size=settings.writer_batch_size, timeout=IDLE_FETCH_S),
            ack_policy=AckPolicy.MANUAL,
            decoder=decode_received,
            title="vos.result (writer)",
            description=channels.RESULTS.description,
        )
        self._sub(self._on_received)

    def started(self) -> None:
        """After the broker started, wrap the subscription's pull (nats-py's `fetch`, the one place
        that sees what a pull brings): it tells PullGroups how many messages make this pull's batch,
        and, when stopping, it ends FastStream's pull loop between two pulls (see stop)."""
        assert self._sub is not None and self._sub.subscription is not None
        sub, pull = self._sub, self._sub.subscription
        fetch = pull.fetch

        async def fetch_unless_closing(*args: Any, **kwargs: Any) -> list[Msg]:
            if self._closing:
                sub.running = False  # FastStream's pull loop ends at once, between two pulls
                return []
            msgs = await fetch(*args, **kwargs)
            self._groups.expect(len(msgs))  # FastStream hands them to the handler next, all of them
            return msgs

        setattr(pull, "fetch", fetch_unless_closing)  # noqa: B010

    async def stop(self) -> None:
        """Stop pulling: the pull in flight is finished (its messages applied, a batch held for the
        database naks at once on the stop event) and no new one starts; within IDLE_FETCH_S plus
        the batch in hand.

        Not FastStream's `stop()` alone: it ends the pull loop with a flag that its handler tasks
        check too, so the messages of a pull returning around that moment would be dropped
        unacknowledged (redelivered only after ack_wait, a minute), or the pull in flight would be
        cancelled with its request left on the server to capture messages nobody reads. Here the
        loop ends between two pulls, and only then does FastStream's `stop()` unsubscribe."""
        if self._sub is None:
            return
        sub, self._sub = self._sub, None
        self._closing = True
        if sub.tasks:
            await asyncio.wait(list(sub.tasks), timeout=IDLE_FETCH_S + 2.0)
        try:
            await sub.stop()
        except Exception as exc:  # the connection may already be gone
            log.debug("unsubscribe failed", extra={"error": repr(exc)})

    async def _on_received(self, decoded: Any, message: fs.NatsMessage) -> None:
        # `Any`: FastStream must not validate again what the decoder built.
        await self._groups.submit(Received(message, decoded))

    async def handle(self, batch: list[Received]) -> None:
        """One pull's messages: dead-letter what is not a result, apply the rest as one batch."""
        self._metrics.batch_size.observe(len(batch))
        self._metrics.consumer_pending.set(batch[-1].message.raw_message.metadata.num_pending)
        decoded: list[tuple[NatsMessage, FetchResult]] = []
        for item in batch:
            outcome = item.decoded
            if outcome.result is None:
                await self._dead.send(item.message, outcome.stage, outcome.problem)
            else:
                decoded.append((item.message, outcome.result))
        if decoded:
            await self._apply(decoded)

    async def _apply(self, decoded: list[tuple[NatsMessage, FetchResult]]) -> None:
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

    async def _apply_one_by_one(self, decoded: list[tuple[NatsMessage, FetchResult]]) -> None:
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

    async def _failed(self, msg: NatsMessage, result: FetchResult, exc: BaseException) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        deliveries = msg.raw_message.metadata.num_delivered
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

    async def _until_db_answers(self, attempt: Callable[[], Awaitable[T]], msgs: list[NatsMessage]) -> T:
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

    async def _ack(self, msgs: list[NatsMessage]) -> None:
        for msg in msgs:
            try:
                await msg.ack()
            except Exception as exc:  # not acked: redelivered later, and applying it again is harmless
                log.debug("ack failed", extra={"error": repr(exc)})

    async def _nak(self, msgs: list[NatsMessage]) -> None:
        for msg in msgs:
            try:
                await msg.nack(delay=self._settings.writer_nak_delay_s)
                self._metrics.naks.inc()
            except Exception as exc:
                log.debug("nak failed", extra={"error": repr(exc)})

    async def _in_progress(self, msgs: list[NatsMessage]) -> None:
        for msg in msgs:
            try:
                await msg.in_progress()
            except Exception as exc:
                log.debug("in-progress ack failed", extra={"error": repr(exc)})
