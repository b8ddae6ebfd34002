"""Publishes FetchResults to the VOS_RESULTS stream until JetStream acks each one.

Publishing goes through the FastStream broker (`broker.publish(..., stream=VOS_RESULTS)`, which
returns the PubAck); the superseding backlog and the retry-until-acked workers are this module's
own, FastStream has nothing like them. The broker hands the publish to nats-py's JetStream
context, so its errors are nats-py's (NoRespondersError / NoStreamResponseError when no stream
captures the subject, nats.errors.TimeoutError when no ack comes).

A failed publish (NATS restarting, stream leader moving, no responders) is retried with capped
exponential backoff; the `Nats-Msg-Id` header (FetchResult.msg_id) makes a retry of a publish that
did land a duplicate the stream drops. The backlog is bounded: when it passes its limits, only the
newest result per (instance, cache_key) is kept (an older one would be overwritten by it anyway), and
if that is still too much the oldest go; each drop is logged once with counts.

A result the bus cannot carry (its body over the server's max_payload or the streams' message limit,
or refused as such by NATS) is never retried: retrying it would hold a publish worker for ever. It
is replaced by a failure result of the same key (`error_kind` too_large, the size in `error`), which
the writer records on the cache row; each one is logged and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from faststream.nats import NatsBroker
from nats.errors import Error as NatsError
from nats.errors import MaxPayloadError, NoRespondersError
from nats.js.errors import APIError, NoStreamResponseError

from vosync.shared.bus import MAX_MESSAGE_BYTES
from vosync.shared.channels import MSG_ID_HEADER, RESULTS, RESULTS_STREAM
from vosync.shared.messages import ErrorKind, FetchResult
from vosync.shared.tasks import cancel_and_wait

log = logging.getLogger(__name__)

MAX_BACKLOG_MESSAGES = 5_000
MAX_BACKLOG_BYTES = 256 * 1024 * 1024
PUBLISH_TIMEOUT_S = 5.0
RETRY_BASE_S = 0.1
RETRY_MAX_S = 5.0
HEADER_ROOM_BYTES = 4 * 1024  # subject and headers travel in the same NATS message as the body
_MESSAGE_TOO_LARGE = 10054  # JetStream's "message size exceeds maximum allowed"


def too_large_result(result: FetchResult, size: int, limit: int) -> FetchResult:
    """The failure that is published instead of a result the bus cannot carry: same key, same
    fetch (fetched_at, poller), no reply."""
    return result.model_copy(
        update={
            "ok": False,
            "response": None,
            "ret_code": None if result.ok else result.ret_code,  # VOS's code, unless it was success
            "error_kind": ErrorKind.TOO_LARGE,
            "error": f"result of {size} bytes exceeds the bus limit of {limit} bytes (NATS max_payload)",
        }
    )


@dataclass(frozen=True, slots=True)
class Outgoing:
    key: tuple[int, str]  # (instance_id, cache_key): a newer result for it supersedes this one
    subject: str
    body: bytes
    headers: dict[str, str]
    msg_id: str
    # The result without its reply, to build a too_large failure from; None when it has no reply
    # (nothing smaller could be sent in its place).
    result: FetchResult | None = None

    @classmethod
    def of(cls, result: FetchResult) -> Outgoing:
        body, headers = RESULTS.encode(result, **{MSG_ID_HEADER: result.msg_id})
        return cls(
            (result.instance_id, result.cache_key),
            RESULTS.subject(instance_id=result.instance_id, api_name=result.api_name),
            body,
            headers,
            result.msg_id,
            result.model_copy(update={"response": None}) if result.response is not None else None,
        )


class Backlog:
    """Results waiting to be published, oldest first, within message and byte limits."""

    def __init__(self, max_messages: int = MAX_BACKLOG_MESSAGES, max_bytes: int = MAX_BACKLOG_BYTES) -> None:
        self._items: deque[Outgoing] = deque()
        self._bytes = 0
        self._max_messages = max_messages
        self._max_bytes = max_bytes
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def bytes(self) -> int:
        return self._bytes

    def push(self, item: Outgoing) -> int:
        """Append; returns how many older results were dropped to stay within limits."""
        self._items.append(item)
        self._bytes += len(item.body)
        if not self._over():
            return 0
        dropped = self._keep_newest_per_key()
        while self._over() and len(self._items) > 1:
            self._bytes -= len(self._items.popleft().body)
            dropped += 1
        self.dropped += dropped
        return dropped

    def pop(self) -> Outgoing | None:
        if not self._items:
            return None
        item = self._items.popleft()
        self._bytes -= len(item.body)
        return item

    def _over(self) -> bool:
        return len(self._items) > self._max_messages or self._bytes > self._max_bytes

    def _keep_newest_per_key(self) -> int:
        newest: dict[tuple[int, str], Outgoing] = {}
        for item in self._items:
            newest.pop(item.key, None)
            newest[item.key] = item  # re-insert: order follows each key's newest result
        kept = deque(newest.values())
        dropped = len(self._items) - len(kept)
        self._items = kept
        self._bytes = sum(len(i.body) for i in kept)
        return dropped


class ResultPublisher:
    """`submit()` never blocks; workers publish in order of submission and retry until acked."""

    def __init__(
        self,
        broker: NatsBroker,
        *,
        workers: int = 4,
        backlog: Backlog | None = None,
        on_published: Callable[[], None] | None = None,
        on_dropped: Callable[[int], None] | None = None,
        repair: Callable[[], Awaitable[None]] | None = None,
        max_payload: Callable[[], int] | None = None,
        on_too_large: Callable[[FetchResult], None] | None = None,
    ) -> None:
        self._broker = broker
        self._max_payload = max_payload  # the connected server's, read per result (servers differ)
        self._on_too_large = on_too_large
        self._backlog = backlog or Backlog()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._workers = workers
        self._tasks: list[asyncio.Task[None]] = []
        self._in_flight = 0
        self._on_published = on_published
        self._on_dropped = on_dropped
        self._repair = repair  # re-declares the stream when nothing answers for its subject
        self._failing_since: float | None = None
        self._closing = False

    @property
    def pending(self) -> int:
        return len(self._backlog) + self._in_flight

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work(), name=f"publish-{i}") for i in range(self._workers)]

    def limit(self) -> int:
        """The largest body the bus takes: the server's max_payload and the streams' limit."""
        server = self._max_payload() if self._max_payload is not None else MAX_MESSAGE_BYTES
        return min(server, MAX_MESSAGE_BYTES) - HEADER_ROOM_BYTES

    def submit(self, result: FetchResult) -> None:
        outgoing = Outgoing.of(result)
        if len(outgoing.body) > self.limit():
            replacement = self._too_large(outgoing)
            if replacement is None:
                return
            outgoing = replacement
        dropped = self._backlog.push(outgoing)
        if dropped:
            log.warning(
                "publish backlog full; dropped older results",
                extra={
                    "dropped": dropped,
                    "backlog": len(self._backlog),
                    "backlog_bytes": self._backlog.bytes,
                },
            )
            if self._on_dropped is not None:
                self._on_dropped(dropped)
        self._idle.clear()
        self._wakeup.set()

    async def flush(self, timeout_s: float) -> bool:
        """Wait until everything submitted is acked, up to the deadline; True when all got out."""
        if self.pending:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await self._idle.wait()
        return self.pending == 0

    async def stop(self) -> None:
        self._closing = True
        await cancel_and_wait(self._tasks)
        self._tasks = []
        if self.pending:
            log.warning("results not published at shutdown", extra={"count": self.pending})

    async def _work(self) -> None:
        while not self._closing:
            item = self._backlog.pop()
            if item is None:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            self._in_flight += 1
            try:
                await self._publish_until_acked(item)
            finally:
                self._in_flight -= 1
                if self.pending == 0:
                    self._idle.set()

    def _too_large(self, item: Outgoing) -> Outgoing | None:
        """The failure result to publish instead of `item` (which the bus refuses); None when
        `item` is already a failure without a reply (nothing smaller to send: it is dropped)."""
        limit = self.limit()
        if item.result is None:
            log.error(
                "failure result too large for the bus; dropped",
                extra={"subject": item.subject, "bytes": len(item.body), "limit": limit},
            )
            return None
        failure = too_large_result(item.result, len(item.body), limit)
        log.error(
            "result too large for the bus; publishing a too_large failure instead",
            extra={
                "instance_id": failure.instance_id,
                "api": failure.api_name,
                "bytes": len(item.body),
                "limit": limit,
            },
        )
        if self._on_too_large is not None:
            self._on_too_large(failure)
        return Outgoing.of(failure)

    async def _publish_until_acked(self, item: Outgoing) -> None:
        delay = RETRY_BASE_S
        while not self._closing:
            try:
                await self._broker.publish(
                    item.body,
                    item.subject,
                    headers=item.headers,
                    stream=RESULTS_STREAM,
                    timeout=PUBLISH_TIMEOUT_S,
                )
            except (MaxPayloadError, APIError) as exc:
                # Refused for its size (a server with a smaller max_payload than when it was
                # submitted): retrying cannot help; anything else NATS refuses is retried below.
                if isinstance(exc, MaxPayloadError) or exc.err_code == _MESSAGE_TOO_LARGE:
                    replacement = self._too_large(item)
                    if replacement is None:
                        return
                    item = replacement
                    continue
                self._log_failing(exc)
                await asyncio.sleep(delay)
                delay = min(RETRY_MAX_S, delay * 2)
                continue
            except (NatsError, TimeoutError, OSError) as exc:
                self._log_failing(exc)
                if isinstance(exc, NoRespondersError | NoStreamResponseError) and self._repair is not None:
                    with contextlib.suppress(NatsError, TimeoutError, OSError):
                        await self._repair()
                await asyncio.sleep(delay)
                delay = min(RETRY_MAX_S, delay * 2)
                continue
            self._log_recovered()
            if self._on_published is not None:
                self._on_published()
            return

    def _log_failing(self, exc: BaseException) -> None:
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            log.warning("publishing results failing; retrying", extra={"error": repr(exc)})

    def _log_recovered(self) -> None:
        if self._failing_since is not None:
            log.info(
                "publishing results again",
                extra={"after_s": round(time.monotonic() - self._failing_since, 1)},
            )
            self._failing_since = None
