"""Per-instance backoff: after repeated transport failures, stop calling VOS but for one probe at a time.

Closed (calls go through) until `after_failures` consecutive transport failures; then each further
failure opens it for a delay drawn with full jitter from [0, min(max_s, base_s · 2^(n − after))]
(AWS "exponential backoff and jitter"). When the delay has passed, one caller gets a probe; the
probe's success (or any non-transport outcome such as a retCode error) closes it again.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    after_failures: int
    base_s: float
    max_s: float

    def cap(self, failures: int) -> float:
        """The upper bound of the delay after `failures` consecutive transport failures."""
        exponent = max(0, failures - self.after_failures)
        return min(self.max_s, self.base_s * 2.0 ** min(exponent, 62))


class Backoff:
    def __init__(
        self,
        instance_id: int,
        policy: BackoffPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self.instance_id = instance_id
        self._policy = policy
        self._clock = clock
        self._rng = rng or random.Random()
        self._on_change = on_change
        self.failures = 0
        self._open_until = 0.0
        self._probe_out = False

    @property
    def backing_off(self) -> bool:
        return self.failures >= self._policy.after_failures

    def try_acquire(self) -> bool:
        """May a call go to VOS now? While backing off, True for exactly one probe once the delay passed."""
        if not self.backing_off:
            return True
        if self._probe_out or self._clock() < self._open_until:
            return False
        self._probe_out = True
        return True

    def retry_in(self) -> float:
        """Seconds until a call may be allowed again (0 when allowed now)."""
        if not self.backing_off:
            return 0.0
        return max(0.0, self._open_until - self._clock())

    def abandon(self) -> None:
        """An allowed call ended without an outcome (cancelled): let the next caller probe."""
        self._probe_out = False

    def record(self, transport_failure: bool) -> None:
        self._probe_out = False
        if not transport_failure:
            if self.backing_off:
                log.info(
                    "vos answers again; backoff ended",
                    extra={"instance_id": self.instance_id, "failures": self.failures},
                )
                self._notify(False)
            self.failures = 0
            return
        self.failures += 1
        if not self.backing_off:
            return
        delay = self._rng.uniform(0.0, self._policy.cap(self.failures))
        self._open_until = self._clock() + delay
        if self.failures == self._policy.after_failures:
            log.warning(
                "vos failing; backing off",
                extra={
                    "instance_id": self.instance_id,
                    "failures": self.failures,
                    "max_delay_s": self._policy.max_s,
                },
            )
            self._notify(True)

    def _notify(self, backing_off: bool) -> None:
        if self._on_change is not None:
            self._on_change(backing_off)
