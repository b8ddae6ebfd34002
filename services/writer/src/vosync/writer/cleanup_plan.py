"""What the periodic cleanup may delete, decided from the settings and the clock alone (no I/O).

- gateway_event_outbox: a published row once `outbox_retention_s` has passed since it was published
  (the event is on GATEWAY_EVENTS by then; the row only served the relay). A row set aside as dead
  (migration 0004) keeps its own, longer retention (`outbox_dead_retention_s`): it is the evidence
  of a bug or a bad payload, and its copy on the dead-letter stream may have aged out already. An
  unpublished row is never deleted.
- vos_data_cache: a row is unused, and deleted, when all of these hold:
  - it is not the row of a scheduled request (an API the catalogue polls, with the unfiltered `{}`
    params the poller sends): those are the projection's source and the page's data, whatever age;
  - no fetch attempted it within `cache_retention_s` (last_attempt_at: every fetch, on demand or
    by a reader's expired read, moves it, success or failure);
  - it was not fresh within that time (expires_at: a reader served from a row with a long TTL
    causes no fetch);
  - no reader was served it without a fetch within that time (last_read_at, which the api sets
    while fetches fail, at most once per touch interval).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from vosync.shared.cache_key import cache_key
from vosync.shared.settings import Settings

# One writer cleans at a time (pg_try_advisory_xact_lock per statement); another writer whose try
# fails skips that statement. Without the lock several would still be harmless (SKIP LOCKED rows),
# only wasteful.
CLEANUP_LOCK = (771_800, 1)


class Table(StrEnum):
    """The label of vosync_writer_cleanup_deleted_total."""

    OUTBOX = "gateway_event_outbox"
    OUTBOX_DEAD = "gateway_event_outbox_dead"
    CACHE = "vos_data_cache"


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    outbox_s: float
    outbox_dead_s: float
    cache_s: float
    batch_rows: int
    # (api_path, cache_key) of every scheduled request: never deleted.
    kept_paths: tuple[str, ...]
    kept_keys: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        kept = sorted({(spec.path, cache_key(spec.path, {})) for spec in settings.catalogue.scheduled()})
        return cls(
            outbox_s=settings.outbox_retention_s,
            outbox_dead_s=settings.outbox_dead_retention_s,
            cache_s=settings.cache_retention_s,
            batch_rows=settings.writer_cleanup_batch_rows,
            kept_paths=tuple(path for path, _ in kept),
            kept_keys=tuple(key for _, key in kept),
        )

    def cutoff(self, table: Table, now: datetime) -> datetime:
        """Rows of `table` whose relevant time is before this are past their retention."""
        seconds = {Table.OUTBOX: self.outbox_s, Table.OUTBOX_DEAD: self.outbox_dead_s}
        return now - timedelta(seconds=seconds.get(table, self.cache_s))

    def more(self, deleted: int) -> bool:
        """A full batch may have left more behind: delete again (each batch its own short transaction)."""
        return deleted >= self.batch_rows
