"""One log line when a key starts failing and one when it recovers, never one per poll.

A retCode error, an HTTP 4xx (VOS's access control refusing the poller's address) or the first
transport failures used to log nothing: the failure only reached the cache row. Edges only keep the
log readable while a VOS stays down for hours.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from vosync.shared.messages import FetchResult

log = logging.getLogger(__name__)
MAX_TRACKED_KEYS = 10_000  # on-demand params can make many keys: forget the oldest failing ones


@dataclass(slots=True)
class _Failing:
    since: float  # monotonic
    polls: int


class FailureLog:
    def __init__(self, poller_id: str) -> None:
        self._poller_id = poller_id
        self._failing: dict[tuple[int, str, str], _Failing] = {}

    def observe(self, result: FetchResult) -> None:
        key = (result.instance_id, result.api_name, result.cache_key)
        failing = self._failing.get(key)
        if result.ok:
            if failing is not None:
                del self._failing[key]
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
        self._failing[key] = _Failing(time.monotonic(), 1)
        while len(self._failing) > MAX_TRACKED_KEYS:
            del self._failing[next(iter(self._failing))]
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
