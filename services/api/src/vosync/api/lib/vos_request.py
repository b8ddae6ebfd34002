"""What a VOS API request is keyed by: the catalogue's spec for a name (403 write API, 404 unknown)
and the cache key of its params (400 for params no key can be made of). Shared by the proxy and
sync domains."""

from __future__ import annotations

from typing import Any

from litestar.exceptions import ClientException, NotFoundException, PermissionDeniedException

from vosync.shared.cache_key import cache_key
from vosync.shared.catalogue import ApiSpec, Catalogue, UnknownApiError, WriteApiError


def resolve_spec(catalogue: Catalogue, api_name: str) -> ApiSpec:
    """The API's spec, or 403 for a write API / 404 for a name vosync does not know."""
    try:
        return catalogue.spec(api_name)
    except WriteApiError as exc:
        raise PermissionDeniedException(detail=str(exc)) from None
    except UnknownApiError:
        raise NotFoundException(detail=f"unknown VOS API {api_name!r}") from None


MAX_PARAMS_DEPTH = 32  # VOS params are flat (names, ids); deeper is junk the bus cannot carry


def _depth(value: Any) -> int:
    """Nesting depth of decoded JSON, without recursion (input may be hostile)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def params_key(api_path: str, params: dict[str, Any]) -> str:
    if _depth(params) > MAX_PARAMS_DEPTH:
        raise ClientException(detail=f"the request body is nested deeper than {MAX_PARAMS_DEPTH} levels")
    try:
        return cache_key(api_path, params)
    except (UnicodeEncodeError, ValueError, TypeError):
        raise ClientException(detail="the request body is not a JSON object vosync can key") from None
