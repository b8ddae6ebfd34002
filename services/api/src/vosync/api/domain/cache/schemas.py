"""Cache status and invalidation replies."""

from __future__ import annotations

from datetime import datetime

import msgspec


class CacheEntryStatus(msgspec.Struct):
    api_name: str
    api_path: str
    cache_key: str
    synced_at: datetime | None
    expires_at: datetime | None
    age_s: float | None
    is_valid: bool
    ret_code: int | None
    error_kind: str | None
    error_message: str | None
    last_error_at: datetime | None
    last_attempt_at: datetime | None


class CacheStatus(msgspec.Struct):
    instance_id: int
    instance_name: str
    items: list[CacheEntryStatus]
    total: int


class CacheInvalidated(msgspec.Struct):
    instance_id: int
    api_path: str | None
    invalidated: int
