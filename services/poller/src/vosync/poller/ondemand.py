"""On-demand fetches: core NATS request-reply on `vos.fetch.<instance_id>`, queue group `pollers`,
served by a FastStream subscriber (channels.FETCH) that runs up to MAX_CONCURRENT requests at once.

Any poller serves any instance (each knows every instance from the KV bucket). Concurrent requests
for the same (instance, cache_key) share one VOS call — also with a scheduled run of the key in
flight — and the result is published to VOS_RESULTS like a scheduled one (reason from the request:
on_demand or sync) and returned as the reply.

Reply contract (what the api relies on):
- request body: a FetchRequest as JSON; the instance in the subject must match the body's.
- a fetch happened (success or failure): the body is the FetchResult encoded by vosync.shared.codec,
  with the codec's headers (`Vosync-Encoding: zlib` when compressed) — decode with
  `codec.decode(FetchResult, msg.data, msg.headers)`. A VOS error is a FetchResult with ok = false.
- no fetch happened: an EMPTY body and the headers `Vosync-Error: <short reason>` and
  `Vosync-Error-Status: <HTTP status for the api>` (channels.FETCH_ERROR_HEADER / FETCH_ERROR_STATUS_HEADER):
  400 malformed request; 403 a write API (vosync never forwards them); 404 unknown instance or API;
  503 instance disabled, instance backing off after transport failures, or poller stopping;
  502 the result could not be sent back (e.g. too large for the bus; it was still published);
  500 a bug in the poller (logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from faststream import Path
from faststream.message import StreamMessage
from faststream.nats import NatsBroker, NatsResponse
from faststream.nats.subscriber.usecases import ConcurrentCoreSubscriber
from nats.errors import Error as NatsError
from pydantic import ValidationError

from vosync.poller.directory import WatchedInstances
from vosync.poller.metrics import PollerMetrics
from vosync.shared import channels
from vosync.shared.catalogue import ApiSpec, Catalogue, UnknownApiError, WriteApiError
from vosync.shared.messages import FetchReason, FetchRequest, FetchResult
from vosync.shared.tasks import cancel_and_wait

log = logging.getLogger(__name__)

# Requests served at once by one poller; requests for different keys never wait for each other
# below this (each VOS call is bounded by the instance's semaphore anyway).
MAX_CONCURRENT = 256
# Room left in a reply for the headers FastStream and NATS add to ours.
_HEADER_ROOM = 1024


@dataclass(frozen=True, slots=True)
class Refusal:
    """No VOS call was made; why, and the HTTP status the api should answer with."""

    status: int
    reason: str


Fetch = Callable[[int, ApiSpec, dict[str, Any], FetchReason], Awaitable[tuple["FetchResult | Refusal", bool]]]


async def _raw_body(msg: StreamMessage[Any]) -> bytes:
    """The request as received: the handler validates it itself, so a malformed one is answered
    with a 400 instead of being dropped by FastStream."""
    return msg.body


class OnDemandServer:
    def __init__(
        self,
        broker: NatsBroker,
        *,
        catalogue: Catalogue,
        directory: WatchedInstances,
        fetch: Fetch,
        metrics: PollerMetrics,
        is_stopping: Callable[[], bool],
        max_payload: Callable[[], int],
    ) -> None:
        self._catalogue = catalogue
        self._directory = directory
        self._fetch = fetch
        self._metrics = metrics
        self._is_stopping = is_stopping
        self._max_payload = max_payload
        self._tasks: set[asyncio.Task[NatsResponse]] = set()
        self._sub: ConcurrentCoreSubscriber = broker.subscriber(
            channels.FETCH.pattern,
            queue=channels.FETCH_QUEUE,
            decoder=_raw_body,
            max_workers=MAX_CONCURRENT,
            title="vos.fetch",
            description=channels.FETCH.description,
        )
        self._sub(self._on_request)

    async def stop(self, grace_s: float) -> None:
        """Stop taking requests (the queue group's other pollers get them); let those in progress
        finish for up to `grace_s`; the rest are cancelled and answered 503."""
        subscription = self._sub.subscription
        if subscription is not None:
            # Unsubscribed here, not by FastStream's stop, which waits for running handlers first
            # (while still taking requests); nats-py call: FastStream has no "stop receiving" alone.
            self._sub.subscription = None
            with contextlib.suppress(NatsError, TimeoutError, OSError):
                await subscription.unsubscribe()
        if self._tasks and grace_s > 0:
            await asyncio.wait(list(self._tasks), timeout=grace_s)
        await cancel_and_wait(self._tasks, 0.5)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await self._sub.stop()

    async def _on_request(self, body: bytes, instance_id: str = Path()) -> NatsResponse:
        # The work runs in a task of ours, so stop() can bound and cancel it and still answer.
        task = asyncio.create_task(self._serve(body, instance_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and not (current is not None and current.cancelling()):
                return self._error(Refusal(503, "poller stopping"))
            raise

    async def _serve(self, body: bytes, subject_instance: str) -> NatsResponse:
        try:
            outcome = await self._handle(body, subject_instance)
        except Exception:  # a bug must cost one request, never the subscription
            log.exception("on-demand fetch failed", extra={"instance": subject_instance})
            outcome = Refusal(500, "internal error in the poller")
        if isinstance(outcome, Refusal):
            self._metrics.on_demand.labels("rejected").inc()
            return self._error(outcome)
        self._metrics.on_demand.labels("ok" if outcome.ok else "failed").inc()
        reply, headers = channels.RESULTS.encode(outcome)
        if len(reply) + _HEADER_ROOM > self._max_payload():
            log.warning(
                "on-demand reply not sent",
                extra={"instance_id": outcome.instance_id, "api": outcome.api_name, "bytes": len(reply)},
            )
            return self._error(Refusal(502, f"reply not sent: {len(reply)} bytes is too large for the bus"))
        return NatsResponse(reply, headers=headers)

    async def _handle(self, body: bytes, subject_instance: str) -> FetchResult | Refusal:
        try:
            request = FetchRequest.model_validate_json(body)
        except ValidationError as exc:
            first = exc.errors()[0] if exc.errors() else {"msg": str(exc), "loc": ()}
            where = ".".join(str(p) for p in first["loc"])
            return Refusal(400, f"bad FetchRequest: {where + ': ' if where else ''}{first['msg']}")
        if subject_instance != str(request.instance_id):
            return Refusal(400, f"subject names instance {subject_instance}, body {request.instance_id}")
        if self._is_stopping():
            return Refusal(503, "poller stopping")
        record = self._directory.get(request.instance_id)
        if record is None:
            return Refusal(404, f"unknown instance {request.instance_id}")
        if not record.enabled:
            return Refusal(503, f"instance {request.instance_id} is disabled")
        try:
            spec = self._catalogue.spec(request.api_name)
        except WriteApiError:
            return Refusal(403, f"{request.api_name} changes VOS state; not forwarded")
        except UnknownApiError:
            return Refusal(404, f"unknown VOS API {request.api_name}")
        outcome, joined = await self._fetch(request.instance_id, spec, dict(request.params), request.reason)
        if joined:
            self._metrics.on_demand_coalesced.inc()
        return outcome

    @staticmethod
    def _error(refusal: Refusal) -> NatsResponse:
        reason = " ".join(refusal.reason.split())[:200]  # a header value is one line
        return NatsResponse(
            b"",
            headers={
                channels.FETCH_ERROR_HEADER: reason,
                channels.FETCH_ERROR_STATUS_HEADER: str(refusal.status),
            },
        )
