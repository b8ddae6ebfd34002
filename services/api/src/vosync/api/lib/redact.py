"""Masking of secrets in VOS data: any key ending in "password" (case-insensitive), at any depth."""

from __future__ import annotations

from typing import Any

MASK = "***"


def is_secret_key(key: str) -> bool:
    return key.lower().endswith("password")


def redact(value: Any) -> Any:
    """A copy of `value` with every secret replaced by "***"; the input is not changed."""
    if isinstance(value, dict):
        return {k: (MASK if isinstance(k, str) and is_secret_key(k) else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def has_secret(value: Any) -> bool:
    """Whether `value` holds any secret key, so callers can skip copying data that has none."""
    if isinstance(value, dict):
        return any((isinstance(k, str) and is_secret_key(k)) or has_secret(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_secret(item) for item in value)
    return False


def raw_data_shown(value: Any, *, unmasked: bool) -> dict[str, Any]:
    """A row's raw VOS item as a reply shows it: an object ({} when the column holds anything else),
    secrets masked unless the caller may see them."""
    raw = value if isinstance(value, dict) else {}
    return raw if unmasked else redact(raw)
