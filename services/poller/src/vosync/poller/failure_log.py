"""One log line when a key starts failing and one when it recovers, never one per poll.

A retCode error, an HTTP 4xx (VOS's access control refusing the poller's address) or the first
transport failures used to log nothing: the failure only reached the cache row. Edges only keep the
log readable while a VOS stays down for hours.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from vosync.shared.messages import FetchResult

log = logging.getLogger(__name__)
MAX_TRACKED_KEYS = 10_000  # on-demand params can make many keys: forget the oldest failing ones


@dataclass(slots=True)
class _Failing:
    since: float  # monotonic
    polls: int
    since_unix: float  # the same moment as wall time, for the heartbeat (vosync status)
    scheduled: bool  # the API's default params: what the schedule polls, not an on-demand query


class FailureLog:
    def __init__(self, poller_id: str, on_edge: Callable[[], None] | None = None) -> None:
        self._poller_id = poller_id
        self._on_edge = on_edge  # a scheduled key started failing or recovered
        self._failing: dict[tuple[int, str, str], _Failing] = {}

    def failing_since(self, instance_id: int) -> float | None:
        """Unix time the oldest failing scheduled call of the instance started failing, if any.

        On-demand keys do not count: a query with bad params failing says nothing about VOS."""
        starts = [
            f.since_unix
            for (inst, _api, _key), f in self._failing.items()
            if inst == instance_id and f.scheduled
        ]
        return min(starts, default=None)

    def forget(self, instance_id: int) -> None:
        """The instance went to another poller, or away: its failures are no longer ours to report."""
        for key in [k for k, f in self._failing.items() if k[0] == instance_id and f.scheduled]:
            del self._failing[key]

    def observe(self, result: FetchResult) -> None:
        key = (result.instance_id, result.api_name, result.cache_key)
        failing = self._failing.get(key)
        if result.ok:
            if failing is not None:
                del self._failing[key]
                if failing.scheduled and self._on_edge is not None:
                    self._on_edge()
                log.info(
                    "VOS call recovered",
                    extra={
                        "instance_id": result.instance_id,
                        "vos_api": result.api_name,
                        "cache_key": result.cache_key,
                        "failed_polls": failing.polls,
                        "failed_for_s": round(time.monotonic() - failing.since, 1),
                        "poller_id": self._poller_id,
                    },
                )
            return
        if failing is not None:
            failing.polls += 1
            return
        self._failing[key] = _Failing(time.monotonic(), 1, time.time(), not result.params)
        while len(self._failing) > MAX_TRACKED_KEYS:
            del self._failing[next(iter(self._failing))]
        if not result.params and self._on_edge is not None:
            self._on_edge()
        log.warning(
            "VOS call failing",
            extra={
                "instance_id": result.instance_id,
                "vos_api": result.api_name,
                "cache_key": result.cache_key,
                "error_kind": result.error_kind.value if result.error_kind else None,
                "ret_code": result.ret_code,
                "error": result.error,
                "poller_id": self._poller_id,
            },
        )
