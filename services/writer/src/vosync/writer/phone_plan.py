"""What the GetAllPhoneOnline listings of one batch do to an instance's phone rows: pure decisions.

The writer holds the instance's phone lock, reads the rows that are online or listed, and replays
the batch's listings in fetched_at order here, so every transition is seen (a backlog loses none)
and each row is written once per batch.

Rules (listed = online, as for gateways)
- A listed number not online becomes online: an event, `previous` False, or None when its status
  was never known (a number first seen, or known only from its details).
- An online number not listed becomes offline: an event, and `last_seen_at` = the time of the
  listing before (the last one that had it). The row stays.
- A number still listed is not rewritten: while online, its last_seen_at is the listing's own time
  (the readers take it from GetAllPhoneOnline's cache row), so an unchanged listing costs no write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PhoneState:
    e164: str
    is_online: bool
    status_known: bool


@dataclass(frozen=True, slots=True)
class PhoneTransition:
    instance_id: int
    e164: str
    is_online: bool
    previous: bool | None
    changed_at: datetime


@dataclass(slots=True)
class PhoneRowPlan:
    e164: str
    is_online: bool
    status_known: bool
    changed_at: datetime | None = None
    last_seen_at: datetime | None = None  # set when it went offline in this batch
    dirty: bool = False


@dataclass(slots=True)
class PhonePlan:
    instance_id: int
    rows: dict[str, PhoneRowPlan]
    transitions: list[PhoneTransition] = field(default_factory=list)

    @classmethod
    def of(cls, instance_id: int, current: list[PhoneState]) -> PhonePlan:
        return cls(instance_id, {s.e164: PhoneRowPlan(s.e164, s.is_online, s.status_known) for s in current})

    def apply_listing(self, numbers: list[str], at: datetime, previous_at: datetime | None) -> None:
        listed = set(numbers)
        for e164 in numbers:
            row = self.rows.get(e164)
            if row is None:
                row = self.rows[e164] = PhoneRowPlan(e164, is_online=False, status_known=False)
            if not row.is_online:
                previous = False if row.status_known else None
                self.transitions.append(PhoneTransition(self.instance_id, e164, True, previous, at))
                row.is_online, row.status_known, row.changed_at, row.dirty = True, True, at, True
        for row in self.rows.values():
            if row.is_online and row.e164 not in listed:
                self.transitions.append(PhoneTransition(self.instance_id, row.e164, False, True, at))
                row.is_online, row.changed_at, row.dirty = False, at, True
                row.last_seen_at = previous_at or at

    def written(self) -> list[PhoneRowPlan]:
        """The rows the batch changes, by number (the order rows are locked in)."""
        return sorted((row for row in self.rows.values() if row.dirty), key=lambda row: row.e164)
