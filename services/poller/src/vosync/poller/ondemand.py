"""On-demand fetches: core NATS request-reply on `vos.fetch.<instance_id>`, queue group `pollers`.

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
  `Vosync-Error-Status: <HTTP status for the api>` (bus.FETCH_ERROR_HEADER / FETCH_ERROR_STATUS_HEADER):
  400 malformed request; 403 a write API (vosync never forwards them); 404 unknown instance or API;
  503 instance disabled, instance backing off after transport failures, or poller stopping;
  502 the result could not be sent back (e.g. too large for the bus; it was still published);
  500 a bug in the poller (logged).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from pydantic import ValidationError

from vosync.poller.directory import InstanceDirectory
from vosync.poller.metrics import PollerMetrics
from vosync.shared import bus
from vosync.shared.catalogue import ApiSpec, Catalogue, UnknownApiError, WriteApiError
from vosync.shared.codec import encode
from vosync.shared.messages import FetchReason, FetchRequest, FetchResult
from vosync.shared.tasks import cancel_and_wait

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Refusal:
    """No VOS call was made; why, and the HTTP status the api should answer with."""

    status: int
    reason: str


Fetch = Callable[[int, ApiSpec, dict[str, Any], FetchReason], Awaitable[tuple["FetchResult | Refusal", bool]]]


class OnDemandServer:
    def __init__(
        self,
        nc: NatsClient,
        *,
        catalogue: Catalogue,
        directory: InstanceDirectory,
        fetch: Fetch,
        metrics: PollerMetrics,
        is_stopping: Callable[[], bool],
    ) -> None:
        self._nc = nc
        self._catalogue = catalogue
        self._directory = directory
        self._fetch = fetch
        self._metrics = metrics
        self._is_stopping = is_stopping
        self._sub: Subscription | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(bus.FETCH_SUBJECTS, queue=bus.FETCH_QUEUE, cb=self._on_msg)

    async def stop(self, grace_s: float) -> None:
        """Stop taking requests; let those in progress finish for up to `grace_s`."""
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except NatsError as exc:
                log.debug("fetch unsubscribe failed", extra={"error": repr(exc)})
            self._sub = None
        if self._tasks and grace_s > 0:
            await asyncio.wait(list(self._tasks), timeout=grace_s)
        await cancel_and_wait(self._tasks, 0.5)

    async def _on_msg(self, msg: Msg) -> None:
        # nats-py runs one subscription's callbacks one after another: hand each request to a task.
        task = asyncio.create_task(self._serve(msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, msg: Msg) -> None:
        try:
            outcome = await self._handle(msg)
        except Exception:  # a bug must cost one request, never the subscription
            log.exception("on-demand fetch failed", extra={"subject": msg.subject})
            outcome = Refusal(500, "internal error in the poller")
        if isinstance(outcome, Refusal):
            self._metrics.on_demand.labels("rejected").inc()
            await self._reply_error(msg, outcome)
            return
        self._metrics.on_demand.labels("ok" if outcome.ok else "failed").inc()
        if not msg.reply:
            return
        body, headers = encode(outcome)
        try:
            await self._nc.publish(msg.reply, body, headers=headers or None)
        except NatsError as exc:
            log.warning(
                "on-demand reply not sent",
                extra={"instance_id": outcome.instance_id, "api": outcome.api_name, "error": repr(exc)},
            )
            await self._reply_error(msg, Refusal(502, f"reply not sent: {type(exc).__name__}"))

    async def _handle(self, msg: Msg) -> FetchResult | Refusal:
        try:
            request = FetchRequest.model_validate_json(msg.data)
        except ValidationError as exc:
            first = exc.errors()[0] if exc.errors() else {"msg": str(exc), "loc": ()}
            where = ".".join(str(p) for p in first["loc"])
            return Refusal(400, f"bad FetchRequest: {where + ': ' if where else ''}{first['msg']}")
        subject_instance = msg.subject.rsplit(".", 1)[-1]
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

    async def _reply_error(self, msg: Msg, refusal: Refusal) -> None:
        if not msg.reply:
            return
        reason = " ".join(refusal.reason.split())[:200]  # a header value is one line
        headers = {bus.FETCH_ERROR_HEADER: reason, bus.FETCH_ERROR_STATUS_HEADER: str(refusal.status)}
        try:
            await self._nc.publish(msg.reply, b"", headers=headers)
        except NatsError as exc:
            log.warning("on-demand error reply not sent", extra={"error": repr(exc)})
