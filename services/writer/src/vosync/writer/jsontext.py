"""JSON text that PostgreSQL's jsonb accepts, produced fast (pydantic-core, no key sorting).

jsonb refuses `\\u0000` and NaN/Infinity, which a lenient JSON parser lets through from VOS: NaN
and infinities become null, NUL characters are removed (only when present; the check is a scan).
"""

from __future__ import annotations

from typing import Any

import pydantic_core
from pydantic import BaseModel


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def pg_json(value: Any, *, exclude: set[str] | None = None) -> str:
    """`value` as JSON; a pydantic model as its fields in order, less the names in `exclude`."""
    data = pydantic_core.to_json(value, exclude=exclude, inf_nan_mode="null")
    if b"\\u0000" in data:
        plain = value.model_dump(exclude=exclude) if isinstance(value, BaseModel) else value
        data = pydantic_core.to_json(_without_nul(plain), exclude=exclude, inf_nan_mode="null")
    return data.decode()
