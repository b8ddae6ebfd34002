"""API keys and roles: `X-API-Key` (roles `read` and `admin` from VOSYNC_API_KEYS).

A route says what it needs through its opt: `{ROLE_OPT: "read"}` or `{ROLE_OPT: "admin"}` (set on
a controller, overridden per handler); routes without it (health, metrics, page, schema) are open.
One ASGI middleware enforces it: with VOSYNC_AUTH=required no key → 401, a read key on an admin
route → 403. With VOSYNC_AUTH=off (loopback only) nobody is refused, but secrets in VOS data stay
masked unless the request carries an admin key: turning auth off never turns masking off.

(A middleware rather than Litestar guards: a guard costs a copy of the route handler per request,
and a plain-function guard even a worker-thread hop; this is on the proxy's hot path.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any
from urllib.parse import parse_qs

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.params import QueryParameter
from litestar.types import ASGIApp, Receive, Scope, Send

from vosync.shared.settings import Role, Settings

ROLE_OPT = "vosync_role"
READ: dict[str, Any] = {ROLE_OPT: "read"}
ADMIN: dict[str, Any] = {ROLE_OPT: "admin"}
API_KEY_HEADER = b"x-api-key"
# EventSource cannot send headers; routes with opt {QUERY_KEY_OPT: True} also accept ?api_key=.
API_KEY_QUERY = "api_key"
QUERY_KEY_OPT = "api_key_in_query"
# A route with QUERY_KEY_OPT declares its `api_key` parameter with this type so that the OpenAPI
# document shows it; the handler never reads it (role_of does, before the handler runs).
ApiKeyInQuery = Annotated[
    str | None, QueryParameter(description="the X-API-Key, for clients that cannot send headers")
]
_ROLE_SCOPE_KEY = "vosync.role"
_UNSET: Any = object()
_KEY_NEEDED = "a valid X-API-Key header is required"
_CHALLENGE = {"WWW-Authenticate": 'ApiKey header="X-API-Key"'}


def header_key(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == API_KEY_HEADER:
            return value.decode("latin-1")
    return None


def role_of(scope: Scope, api_keys: Mapping[str, Role]) -> Role | None:
    """The role of the request's key, or None (no key, or a key nobody configured); cached in scope."""
    raw: dict[str, Any] = scope  # type: ignore[assignment]
    role = raw.get(_ROLE_SCOPE_KEY, _UNSET)
    if role is not _UNSET:
        return role  # type: ignore[no-any-return]
    key = header_key(scope)
    handler = raw.get("route_handler")
    if key is None and handler is not None and handler.opt.get(QUERY_KEY_OPT):
        values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(API_KEY_QUERY)
        key = values[0] if values else None
    role = api_keys.get(key) if key else None
    raw[_ROLE_SCOPE_KEY] = role
    return role


def sees_secrets(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    settings: Settings = connection.app.state.settings
    return role_of(connection.scope, settings.api_keys) == "admin"


def auth_middleware(settings: Settings) -> Callable[[ASGIApp], ASGIApp]:
    required = settings.auth == "required"
    api_keys = settings.api_keys

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            handler = scope.get("route_handler")
            needed = handler.opt.get(ROLE_OPT) if handler is not None else None
            if needed is not None and required:
                role = role_of(scope, api_keys)
                if role is None:
                    raise NotAuthorizedException(detail=_KEY_NEEDED, headers=_CHALLENGE)
                if needed == "admin" and role != "admin":
                    raise PermissionDeniedException(detail="this needs an X-API-Key with the admin role")
            await app(scope, receive, send)

        return middleware

    return factory
