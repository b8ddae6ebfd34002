"""API keys and roles: `X-API-Key` (roles `read` and `admin` from VOSYNC_API_KEYS).

With VOSYNC_AUTH=required, reads need a read or admin key and changes (instances, cache
invalidation, sync) need an admin key. With VOSYNC_AUTH=off (loopback only) nobody is refused,
but secrets in VOS data stay masked unless the request carries an admin key: turning auth off never
turns masking off.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from vosync.shared.settings import Role, Settings

API_KEY_HEADER = "x-api-key"
# EventSource cannot send headers; routes with opt {"api_key_in_query": True} also accept ?api_key=.
API_KEY_QUERY = "api_key"
QUERY_KEY_OPT = "api_key_in_query"
_ROLE_SCOPE_KEY = "vosync.role"
_UNSET: Any = object()

_CHALLENGE = {"WWW-Authenticate": 'ApiKey header="X-API-Key"'}


def _settings(connection: ASGIConnection[Any, Any, Any, Any]) -> Settings:
    settings: Settings = connection.app.state.settings
    return settings


def caller_role(connection: ASGIConnection[Any, Any, Any, Any]) -> Role | None:
    """The role of the request's key, or None (no key, or a key nobody configured)."""
    scope: dict[str, Any] = connection.scope  # type: ignore[assignment]
    role = scope.get(_ROLE_SCOPE_KEY, _UNSET)
    if role is not _UNSET:
        return role  # type: ignore[no-any-return]
    key = connection.headers.get(API_KEY_HEADER)
    handler = scope.get("route_handler")
    if key is None and handler is not None and handler.opt.get(QUERY_KEY_OPT):
        key = connection.query_params.get(API_KEY_QUERY)
    role = _settings(connection).api_keys.get(key) if key else None
    scope[_ROLE_SCOPE_KEY] = role
    return role


def sees_secrets(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    return caller_role(connection) == "admin"


def require_read(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if _settings(connection).auth == "off":
        return
    if caller_role(connection) is None:
        raise NotAuthorizedException(detail="a valid X-API-Key header is required", headers=_CHALLENGE)


def require_admin(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if _settings(connection).auth == "off":
        return
    role = caller_role(connection)
    if role is None:
        raise NotAuthorizedException(detail="a valid X-API-Key header is required", headers=_CHALLENGE)
    if role != "admin":
        raise PermissionDeniedException(detail="this needs an X-API-Key with the admin role")
