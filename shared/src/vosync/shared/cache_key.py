"""The cache key of a VOS reply: the same md5 the older system used, so its rows carry over."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def canonical_params(params: Mapping[str, Any] | None) -> str:
    """The request params as the key sees them: sorted keys, non-ASCII kept as is."""
    return json.dumps(dict(params or {}), sort_keys=True, ensure_ascii=False)


def cache_key(api_path: str, params: Mapping[str, Any] | None) -> str:
    raw = f"{api_path}:{canonical_params(params)}"
    return hashlib.md5(raw.encode("utf-8"), usedforsecurity=False).hexdigest()
