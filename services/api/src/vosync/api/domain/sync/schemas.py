"""Sync-now request and per-API outcome."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

ApiName = Annotated[str, Meta(min_length=1, max_length=128)]


class SyncRequest(msgspec.Struct, forbid_unknown_fields=True):
    apis: Annotated[list[ApiName], Meta(max_length=64)] | None = None


class SyncApiResult(msgspec.Struct):
    api_name: str
    ok: bool
    error_kind: str | None
    error: str | None
    ret_code: int | None
    duration_ms: float


class SyncReply(msgspec.Struct):
    instance_id: int
    results: list[SyncApiResult]
