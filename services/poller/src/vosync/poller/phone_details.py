"""Which online phones' details (GetPhoneOnline) to ask for after a GetAllPhoneOnline poll: pure.

GetAllPhoneOnline lists bare numbers, so a change of a phone's details (it re-registered from
another address, its calls moved) cannot be seen from it. Two sources of work, bounded per poll:
- new numbers (listed now, not detailed since they came online on this poller), always first, in
  the order VOS lists them; the ones beyond the bound wait for the next poll;
- a round-robin refresh of the numbers already detailed: up to `refresh_per_poll` of them, in
  number order starting after the last one refreshed, so each online phone is refreshed every
  ceil(online / refresh_per_poll) polls.
A number counts as detailed only after a successful GetPhoneOnline that asked for it; a failed
batch is asked again next poll. A number that drops out is forgotten (details again if it returns).
The memory is per poller: after a restart or a lease move every number is new once.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class DetailLimits:
    batch_size: int  # numbers per GetPhoneOnline
    max_per_poll: int  # numbers asked for per poll, new and refreshed together
    refresh_per_poll: int  # of those, known numbers refreshed

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.max_per_poll < 0 or self.refresh_per_poll < 0:
            raise ValueError("batch_size must be ≥ 1, the per-poll bounds ≥ 0")


@dataclass(frozen=True, slots=True)
class DetailPlan:
    batches: list[list[str]]
    new: int  # numbers asked for because they are new
    refreshed: int  # numbers asked for by the round-robin
    waiting: int  # new numbers left for a later poll by the bound


@dataclass(slots=True)
class PhoneDetailTracker:
    """One instance's memory of which online numbers have details, and where the round-robin is."""

    limits: DetailLimits
    _detailed: set[str] = field(default_factory=set)
    _cursor: str = ""  # the last number the round-robin refreshed

    @property
    def detailed(self) -> int:
        return len(self._detailed)

    def plan(self, online: Iterable[str]) -> DetailPlan:
        listed = list(dict.fromkeys(online))
        self._detailed.intersection_update(listed)
        limits = self.limits
        fresh = [number for number in listed if number not in self._detailed]
        new = fresh[: limits.max_per_poll]
        room = min(limits.refresh_per_poll, limits.max_per_poll - len(new), len(self._detailed))
        refresh = self._round_robin(room)
        numbers = new + refresh
        size = limits.batch_size
        batches = [numbers[i : i + size] for i in range(0, len(numbers), size)]
        return DetailPlan(batches, len(new), len(refresh), len(fresh) - len(new))

    def _round_robin(self, count: int) -> list[str]:
        if count <= 0:
            return []
        ordered = sorted(self._detailed)
        start = bisect.bisect_right(ordered, self._cursor)
        picked = (ordered[start:] + ordered[:start])[:count]
        self._cursor = picked[-1]
        return picked

    def answered(self, batch: list[str]) -> None:
        """GetPhoneOnline succeeded for these numbers (whether or not VOS still listed each)."""
        self._detailed.update(batch)
