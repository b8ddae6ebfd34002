"""The cache key of a VOS reply: the same md5 the older system used, so its rows carry over."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

# The list filters of the APIs that answer "everything" only when the filter is absent. VOS does not
# read `[]`, `""` or `null` as "all" (yk-vos 598b899, 6bf5517): it answers an empty list, which a
# full-snapshot projection would take for "every gateway is gone". These APIs get such filters
# dropped before the key is computed and the request is forwarded, so `{"names": []}` is `{}`.
LIST_FILTERS: dict[str, frozenset[str]] = {
    api: frozenset({"names", "ids", "softswitchName"})
    for api in (
        "GetGatewayMapping",
        "GetGatewayMappingOnline",
        "GetGatewayRouting",
        "GetGatewayRoutingOnline",
        "GetFeeRateGroup",
        "GetSuite",
    )
}


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str | list) and len(value) == 0)


def normalise_params(api_name: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The params as vosync keys and forwards them: empty list filters of `api_name` dropped.

    Idempotent, so the api and the poller may both apply it; any other param is kept as given.
    """
    filters = LIST_FILTERS.get(api_name)
    if not params:
        return {}
    if filters is None:
        return dict(params)
    return {key: value for key, value in params.items() if not (key in filters and _blank(value))}


def canonical_params(params: Mapping[str, Any] | None) -> str:
    """The request params as the key sees them: sorted keys, non-ASCII kept as is."""
    return json.dumps(dict(params or {}), sort_keys=True, ensure_ascii=False)


def cache_key(api_path: str, params: Mapping[str, Any] | None) -> str:
    raw = f"{api_path}:{canonical_params(params)}"
    return hashlib.md5(raw.encode("utf-8"), usedforsecurity=False).hexdigest()
