"""Asking the pollers for a fetch: a core NATS request on `vos.fetch.<instance>` (queue `pollers`),
made with the broker's `request` (which raises nats-py's own errors: NoRespondersError, TimeoutError).

The reply is a FetchResult (success or VOS failure), or an empty body with `Vosync-Error` (and
`Vosync-Error-Status`) when a poller refuses the request. No responders, a timeout or a broken
connection mean no poller could be asked: the outcome says so instead of raising.
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass
from enum import StrEnum

import nats.errors
from faststream.nats import NatsBroker
from pydantic import ValidationError

from vosync.shared import channels
from vosync.shared.codec import decode
from vosync.shared.messages import FetchRequest, FetchResult

log = logging.getLogger(__name__)

# Statuses a poller's refusal may carry through to the client; anything else (a poller bug) is 502.
_REFUSAL_STATUSES = frozenset({400, 403, 404, 502, 503})


class FetchFailure(StrEnum):
    UNAVAILABLE = "unavailable"  # no poller answered (no responders, timeout, NATS down)
    REFUSED = "refused"  # a poller answered that it will not fetch this (Vosync-Error)


@dataclass(frozen=True, slots=True)
class PollerAnswer:
    result: FetchResult | None
    failure: FetchFailure | None
    message: str
    elapsed_ms: float
    refusal_status: int | None = None

    @property
    def ok(self) -> bool:
        return self.result is not None and self.result.ok

    @property
    def error_kind(self) -> str | None:
        if self.failure is not None:
            return self.failure.value
        if self.result is not None and not self.result.ok:
            return self.result.error_kind.value if self.result.error_kind else "vos"
        return None

    @property
    def error(self) -> str | None:
        if self.ok:
            return None
        if self.result is not None:
            return self.result.error or f"VOS call failed ({self.error_kind})"
        return self.message


class Fetcher:
    def __init__(self, broker: NatsBroker, timeout_s: float) -> None:
        self._broker = broker
        self.timeout_s = timeout_s

    async def fetch(self, request: FetchRequest) -> PollerAnswer:
        started = time.perf_counter()

        def outcome(
            result: FetchResult | None,
            failure: FetchFailure | None,
            message: str,
            refusal_status: int | None = None,
        ) -> PollerAnswer:
            elapsed = (time.perf_counter() - started) * 1000
            return PollerAnswer(result, failure, message, round(elapsed, 2), refusal_status)

        body, headers = channels.FETCH.encode(request)
        subject = channels.FETCH.subject(instance_id=request.instance_id)
        try:
            msg = await self._broker.request(body, subject, headers=headers or None, timeout=self.timeout_s)
        except nats.errors.NoRespondersError:
            return outcome(None, FetchFailure.UNAVAILABLE, "no poller is running to fetch from VOS")
        except nats.errors.TimeoutError:
            return outcome(None, FetchFailure.UNAVAILABLE, f"no poller answered within {self.timeout_s:g} s")
        except nats.errors.Error as exc:
            return outcome(None, FetchFailure.UNAVAILABLE, f"message bus unavailable ({type(exc).__name__})")

        headers_in = dict(msg.headers or {})
        data = msg.body
        if not data and channels.FETCH_ERROR_HEADER in headers_in:
            reason = headers_in[channels.FETCH_ERROR_HEADER] or "refused"
            try:
                status = int(headers_in.get(channels.FETCH_ERROR_STATUS_HEADER, "503"))
            except ValueError:
                status = 502
            status = status if status in _REFUSAL_STATUSES else 502
            return outcome(None, FetchFailure.REFUSED, f"poller refused: {reason}", status)
        try:
            result = decode(FetchResult, data, headers_in)  # FETCH.reply
        except (ValidationError, ValueError, zlib.error) as exc:
            log.warning("undecodable fetch reply", extra={"subject": subject, "error": str(exc)[:200]})
            return outcome(None, FetchFailure.UNAVAILABLE, "the poller sent a reply the api cannot read")
        return outcome(result, None, "")
