"""Which history partitions should exist and which have expired: pure decisions, from the clock.

Samples and transitions have one partition a day, rollups one a month, named `<parent>_pYYYYMMDD` /
`<parent>_pYYYYMM` (the name carries the range, so nothing has to parse pg_get_expr). Partitions are
made from yesterday (a late redelivery still has a home) to two days ahead (a writer that stops
maintaining for a day still writes). A partition expires once its whole range is older than the
retention: the rows in it are all older, so dropping it deletes exactly what the retention allows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

Unit = Literal["day", "month"]

DAYS_BEHIND = 1
DAYS_AHEAD = 2
MONTHS_AHEAD = 1  # and the month before: the rollups of the last two days may fall in it

TRANSITIONS = "gateway_transitions"
SAMPLES = "gateway_samples"
ROLLUPS = "gateway_samples_hourly"


@dataclass(frozen=True, slots=True)
class Family:
    parent: str
    unit: Unit
    retention_days: int


@dataclass(frozen=True, slots=True)
class Partition:
    parent: str
    name: str
    start: datetime
    end: datetime


def _day(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, at.day, tzinfo=UTC)


def _month(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def _next_month(start: datetime) -> datetime:
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


def partition_of(family: Family, at: datetime) -> Partition:
    """The partition that holds `at`."""
    if family.unit == "day":
        start = _day(at)
        return Partition(family.parent, f"{family.parent}_p{start:%Y%m%d}", start, start + timedelta(days=1))
    start = _month(at)
    return Partition(family.parent, f"{family.parent}_p{start:%Y%m}", start, _next_month(start))


def wanted(family: Family, now: datetime) -> list[Partition]:
    """The partitions that should exist now, oldest first."""
    if family.unit == "day":
        today = _day(now)
        return [partition_of(family, today + timedelta(days=d)) for d in range(-DAYS_BEHIND, DAYS_AHEAD + 1)]
    first = _month(_month(now) - timedelta(days=1))
    months = [first]
    for _ in range(MONTHS_AHEAD + 1):
        months.append(_next_month(months[-1]))
    return [partition_of(family, m) for m in months]


def parse(family: Family, name: str) -> Partition | None:
    """The partition a table name stands for; None for a name this module did not make."""
    digits = 8 if family.unit == "day" else 6
    match = re.fullmatch(rf"{re.escape(family.parent)}_p(\d{{{digits}}})", name)
    if match is None:
        return None
    fmt = "%Y%m%d" if family.unit == "day" else "%Y%m"
    try:
        start = datetime.strptime(match.group(1), fmt).replace(tzinfo=UTC)
    except ValueError:
        return None
    return partition_of(family, start)


def expired(family: Family, now: datetime, existing: list[str]) -> list[Partition]:
    """The existing partitions whose whole range is older than the retention, oldest first."""
    horizon = now - timedelta(days=family.retention_days)
    found = [p for name in existing if (p := parse(family, name)) is not None]
    return sorted((p for p in found if p.end <= horizon), key=lambda p: p.start)


def missing(family: Family, now: datetime, existing: list[str]) -> list[Partition]:
    have = set(existing)
    return [p for p in wanted(family, now) if p.name not in have]
