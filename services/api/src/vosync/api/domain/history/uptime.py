"""Uptime and flaps of one gateway from its transitions: pure, and the same rule as the list's SQL
(domain/gateways/uptime_sql.py).

Observed time of a window [start, now]: from the window start, or from the gateway's first sighting
if that is inside the window (a transition with previous = null). The state before the first
transition of the window is that transition's `previous`; with no transition in the window it is the
current state. A gateway whose status was never reported (config only, or gone) has nothing
observed: null. While the writer or history was off, the last known state is assumed to have held
(as the projection itself assumes); a gateway first seen offline counts as offline before too (VOS
lists online gateways only: one not listed was not online).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Change:
    is_online: bool
    previous: bool | None
    changed_at: datetime
    event_id: int | None


@dataclass(frozen=True, slots=True)
class Current:
    """The gateway row now (a gone row: offline, status unknown)."""

    is_online: bool
    status_known: bool


def uptime(changes: list[Change], current: Current, start: datetime, now: datetime) -> float | None:
    """The online fraction of the observed part of [start, now]; `changes` oldest first, any range."""
    inside = [c for c in changes if start <= c.changed_at <= now]
    if not inside:
        if not current.status_known:
            return None
        return _fraction(now - start if current.is_online else timedelta(0), now - start)
    first = inside[0]
    if first.previous is None:
        observed_from, state = first.changed_at, first.is_online
    else:
        observed_from, state = start, first.previous
    online = timedelta(0)
    at = observed_from
    for change in inside:
        if state:
            online += change.changed_at - at
        state, at = change.is_online, change.changed_at
    if state:
        online += now - at
    return _fraction(online, now - observed_from)


def _fraction(online: timedelta, observed: timedelta) -> float | None:
    if observed.total_seconds() <= 0:
        return None
    return min(1.0, max(0.0, online / observed))


def flaps(changes: list[Change], start: datetime, now: datetime) -> int:
    return sum(1 for c in changes if start <= c.changed_at <= now)
