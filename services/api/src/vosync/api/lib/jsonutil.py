"""JSON bytes for the hot paths: one msgspec encoder, ISO timestamps, no per-request model work."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Response

_encoder = msgspec.json.Encoder()


def dumps(value: Any) -> bytes:
    return _encoder.encode(value)


def json_response(
    body: bytes, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response[Any]:
    """Pre-serialised JSON as is: no model, no re-encoding (typed Any so any documented model fits)."""
    return Response(content=body, status_code=status_code, media_type="application/json", headers=headers)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def seconds_since(value: datetime | None, now: datetime) -> float | None:
    if value is None:
        return None
    return round((now - value).total_seconds(), 3)
