"""Timestamps in query strings: ISO 8601 or epoch seconds; a bad value is a 400 with a message."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from litestar.exceptions import ClientException

_EPOCH_MIN, _EPOCH_MAX = 0.0, 253_402_300_799.0  # 1970 .. 9999-12-31


def parse_time(value: str | None, what: str) -> datetime | None:
    """A timestamp from ISO 8601 (no zone: UTC) or epoch seconds; None when not given."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or not _EPOCH_MIN <= seconds <= _EPOCH_MAX:
            raise ClientException(detail=f"{what}: epoch seconds out of range ({text[:40]!r})")
        return datetime.fromtimestamp(seconds, UTC)
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise ClientException(
            detail=f"{what} must be ISO 8601 (2026-12-03T10:00:00Z) or epoch seconds, not {text[:40]!r}"
        ) from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
