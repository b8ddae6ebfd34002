"""`vos_data_cache`: the results of a batch folded per key, written by one upsert.

Per (instance, api_path, cache_key), in fetched_at order:
- a result older than the row's last_attempt_at is ignored;
- a success replaces response_data, sets is_valid, synced_at = fetched_at, expires_at = fetched_at +
  TTL, content_hash = md5 of the reply's JSON text as the writer sends it (computed here: asking
  PostgreSQL for md5(jsonb::text) turned a 26 MB reply back into text, ~0.2 s), and clears the
  error columns; when the hash is unchanged only the timestamps move (and the reply is not sent);
- a failure records ret_code, error_kind, error_message, last_error_at, last_attempt_at and keeps the
  last good response_data, content_hash, synced_at, expires_at and is_valid (a first-ever failure
  creates a row with response_data NULL and is_valid false).

The upsert's merge is self-sufficient (it compares with the row it finds, so a row inserted by
another writer in the meantime is merged, not overwritten); the writer additionally locks the
existing rows first, in key order, to know what each commit changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from vosync.shared.messages import FetchResult
from vosync.writer.jsontext import pg_json
from vosync.writer.results import CacheKey, reply_json

LOCK_EXISTING = """
    SELECT c.id, c.vos_instance_id, c.api_path, c.cache_key, c.content_hash, c.is_valid, c.ret_code,
           c.error_kind, c.error_message, c.last_attempt_at, c.synced_at
    FROM vos_data_cache c
    JOIN unnest($1::int[], $2::text[], $3::text[]) AS k(instance_id, api_path, cache_key)
      ON c.vos_instance_id = k.instance_id AND c.api_path = k.api_path AND c.cache_key = k.cache_key
    ORDER BY c.vos_instance_id, c.api_path, c.cache_key
    FOR UPDATE OF c
"""

_NEWER_SUCCESS = (
    "(excluded.synced_at IS NOT NULL AND (t.synced_at IS NULL OR excluded.synced_at >= t.synced_at))"
)

# Rows go in in the order of the arrays, which upsert_args sorts by key (the lock order). No ORDER
# BY here: sorting in SQL would copy every reply, megabytes each, through a tuple sort.
# Only the constant fragment above is interpolated; every value is a bind parameter.
UPSERT = f"""
    INSERT INTO vos_data_cache AS t (
        vos_instance_id, api_path, api_name, cache_key, query_params, response_data, content_hash,
        is_valid, ret_code, error_kind, error_message, synced_at, expires_at, last_attempt_at,
        last_error_at, fetch_ms)
    SELECT n.instance_id, n.api_path, n.api_name, n.cache_key, n.query_params,
           convert_from(n.response_data, 'UTF8')::jsonb, n.content_hash,
           n.content_hash IS NOT NULL, n.ret_code, n.error_kind, n.error_message, n.synced_at,
           n.expires_at, n.last_attempt_at, n.last_error_at, n.fetch_ms
    FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::bytea[], $7::int[],
                $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[],
                $13::timestamptz[], $14::float8[], $15::text[])
         AS n(instance_id, api_path, api_name, cache_key, query_params, response_data, ret_code,
              error_kind, error_message, synced_at, expires_at, last_attempt_at, last_error_at, fetch_ms,
              content_hash)
    ON CONFLICT (vos_instance_id, api_path, cache_key) DO UPDATE SET
        api_name = excluded.api_name,
        query_params = excluded.query_params,
        response_data = CASE WHEN {_NEWER_SUCCESS} AND excluded.content_hash IS DISTINCT FROM t.content_hash
                             THEN excluded.response_data ELSE t.response_data END,
        content_hash = CASE WHEN {_NEWER_SUCCESS} THEN excluded.content_hash ELSE t.content_hash END,
        is_valid = CASE WHEN {_NEWER_SUCCESS} THEN true ELSE t.is_valid END,
        synced_at = CASE WHEN {_NEWER_SUCCESS} THEN excluded.synced_at ELSE t.synced_at END,
        expires_at = CASE WHEN {_NEWER_SUCCESS} THEN excluded.expires_at ELSE t.expires_at END,
        ret_code = excluded.ret_code,
        error_kind = excluded.error_kind,
        error_message = excluded.error_message,
        last_attempt_at = excluded.last_attempt_at,
        last_error_at = greatest(t.last_error_at, excluded.last_error_at),
        fetch_ms = excluded.fetch_ms,
        updated_at = now()
    WHERE excluded.last_attempt_at >= t.last_attempt_at
    RETURNING id, vos_instance_id, api_path, cache_key, content_hash, is_valid, ret_code, error_kind,
              error_message, synced_at
"""  # noqa: S608


@dataclass(frozen=True, slots=True)
class CacheState:
    """The parts of a row that say whether a commit changed what readers see."""

    id: int
    content_hash: str | None
    is_valid: bool
    ret_code: int | None
    error_kind: str | None
    error_message: str | None
    synced_at: datetime | None
    last_attempt_at: datetime | None = None

    def visible(self) -> tuple[Any, ...]:
        return (self.content_hash, self.is_valid, self.ret_code, self.error_kind, self.error_message)

    @classmethod
    def from_record(cls, record: Any) -> tuple[CacheKey, CacheState]:
        key = CacheKey(record["vos_instance_id"], record["api_path"], record["cache_key"])
        state = cls(
            id=record["id"],
            content_hash=record["content_hash"],
            is_valid=record["is_valid"],
            ret_code=record["ret_code"],
            error_kind=record["error_kind"],
            error_message=record["error_message"],
            synced_at=record["synced_at"],
            last_attempt_at=record.get("last_attempt_at"),
        )
        return key, state


@dataclass(slots=True)
class CacheFold:
    """The results of one key that are not older than its row, and what they write."""

    key: CacheKey
    accepted: list[FetchResult]  # fetched_at order
    ttl_s: float
    stored_hash: str | None = None  # content_hash of the row as locked before the upsert
    reply: tuple[bytes, str] | None = None  # the newest success's (JSON bytes, md5), from fold()

    @property
    def content_hash(self) -> str | None:
        return self.reply[1] if self.reply is not None else None

    @property
    def content_changed(self) -> bool:
        """The newest success brings a reply the row does not hold."""
        return self.content_hash is not None and self.content_hash != self.stored_hash

    @property
    def last(self) -> FetchResult:
        return self.accepted[-1]

    @property
    def success(self) -> FetchResult | None:
        return next((r for r in reversed(self.accepted) if r.ok), None)

    def columns(self) -> tuple[Any, ...]:
        last, success = self.last, self.success
        errors = [r.fetched_at for r in self.accepted if not r.ok]
        response, content_hash = self.reply if self.reply is not None else (None, None)
        if content_hash is not None and content_hash == self.stored_hash:
            # The row already holds this reply: only its timestamps move. Not sending it spares
            # PostgreSQL parsing it again (~0.5 s for a 26 MB gateway list).
            response = None
        ret_code = last.ret_code if last.ret_code is not None or not last.ok else 0
        error_message = None
        if not last.ok:
            text = last.error or f"failed: {last.error_kind or 'unknown'}"
            error_message = text.replace("\x00", "")
        return (
            self.key.instance_id,
            self.key.api_path,
            last.api_name,
            self.key.cache_key,
            pg_json(last.params),
            response,
            ret_code,
            None if last.ok or last.error_kind is None else last.error_kind.value,
            error_message,
            success.fetched_at if success is not None else None,
            success.fetched_at + timedelta(seconds=self.ttl_s) if success is not None else None,
            last.fetched_at,
            max(errors) if errors else None,
            last.duration_ms,
            content_hash,
        )


def fold(
    key: CacheKey, results: Sequence[FetchResult], old: CacheState | None, ttl_s: float
) -> CacheFold | None:
    """None when every result is older than the row's last attempt."""
    ordered = sorted(results, key=lambda r: r.fetched_at)
    watermark = old.last_attempt_at if old is not None else None
    accepted = [r for r in ordered if watermark is None or r.fetched_at >= watermark]
    if not accepted:
        return None
    folded = CacheFold(key, accepted, ttl_s, old.content_hash if old is not None else None)
    success = folded.success
    folded.reply = reply_json(success) if success is not None else None
    return folded


def lock_args(keys: Sequence[CacheKey]) -> list[list[Any]]:
    return [[k.instance_id for k in keys], [k.api_path for k in keys], [k.cache_key for k in keys]]


def upsert_args(folds: Sequence[CacheFold]) -> list[list[Any]]:
    rows = [f.columns() for f in sorted(folds, key=lambda f: f.key.sort_key())]
    return [list(col) for col in zip(*rows, strict=True)]
