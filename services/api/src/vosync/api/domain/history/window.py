"""`since` / `until` of the history route: [since, until], capped, or a 400."""

from __future__ import annotations

from datetime import datetime, timedelta

from litestar.exceptions import ClientException

from vosync.api.lib.timeparse import parse_time

MAX_WINDOW = timedelta(days=400)
DEFAULT_WINDOW = timedelta(hours=24)


def window(since: str | None, until: str | None, now: datetime) -> tuple[datetime, datetime]:
    """[since, until]: until defaults to now, since to 24 h before until; since < until, ≤ 400 days."""
    end = parse_time(until, "until") or now
    start = parse_time(since, "since") or end - DEFAULT_WINDOW
    if start >= end:
        raise ClientException(detail=f"since ({start.isoformat()}) must be before until ({end.isoformat()})")
    if end - start > MAX_WINDOW:
        raise ClientException(detail=f"the window is longer than {MAX_WINDOW.days} days")
    return start, end
