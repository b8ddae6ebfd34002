"""Each instance's VOS state from the two places that know it, without I/O.

- The lease holder's heartbeat (vosync.shared.heartbeat): live, and the only place that knows of
  backoff (while backing off no call goes to VOS, so nothing reaches the database). With several
  pollers only the lease holder polls an instance on schedule, so its heartbeat is the one to read.
- The cache rows of the scheduled polls in PostgreSQL: every poller's results land there, whoever
  held the lease, so they say what VOS last answered even with no poller running. They keep the
  last success (synced_at), not when a failure run began: a failure seen only there is reported as
  "failing since the last success" (or since the first attempt, when there never was one).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

from vosync.shared.heartbeat import VosView


class VosState(enum.StrEnum):
    OK = "ok"
    FAILING = "failing"
    BACKING_OFF = "backing_off"
    NO_DATA = "no_data"  # nothing polled yet (a new instance, or no poller has run)
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class CacheFailures:
    """The instance's scheduled-poll cache rows: how many, and those whose last attempt failed."""

    rows: int
    failing_apis: tuple[str, ...]
    # min over the failing rows of (last success, or first attempt when none)
    no_success_since: datetime | None


@dataclass(frozen=True, slots=True)
class StateDecision:
    state: VosState
    since: datetime | None
    source: str | None  # "poller" (its heartbeat) or "database" (the cache rows)


def decide(enabled: bool, view: VosView | None, cache: CacheFailures) -> StateDecision:
    if not enabled:
        return StateDecision(VosState.DISABLED, None, None)
    if view is not None and view.backing_off:
        return StateDecision(
            VosState.BACKING_OFF, _unix(view.failing_since) or cache.no_success_since, "poller"
        )
    if view is not None and view.failing_since is not None:
        return StateDecision(VosState.FAILING, _unix(view.failing_since), "poller")
    if cache.failing_apis:
        return StateDecision(VosState.FAILING, cache.no_success_since, "database")
    if cache.rows == 0:
        return StateDecision(VosState.NO_DATA, None, None)
    return StateDecision(VosState.OK, None, None)


def _unix(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None
