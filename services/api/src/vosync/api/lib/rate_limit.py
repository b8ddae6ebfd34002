"""Per-client rate of forced refreshes (`refresh=true` reads and POST /instances/{id}/sync).

The cooldown in the proxy and sync services keeps one key from reaching VOS more than once per
cooldown; this limit (Litestar's rate limiting middleware) stops one client from sweeping many keys.
Plain reads are never limited: they are served from caches. A client is its API key, else its
address. Over the limit: 429 with Retry-After (added in lib/errors.py).

Only a request that may be forced enters Litestar's middleware, decided from the raw scope: that
middleware builds a Request per call and runs a sync `check_throttle_handler` in a worker thread,
which on every plain read cost more than the cached read itself (benchmark 1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Request
from litestar.middleware.rate_limit import RateLimitConfig, RateLimitMiddleware, get_remote_address
from litestar.types import ASGIApp, Receive, Scope, Send


def _forced(request: Request[Any, Any, Any]) -> bool:
    if request.method != "POST":
        return False
    if request.url.path.endswith("/sync"):
        return True
    return request.query_params.get("refresh", "").lower() in ("true", "1")


def _may_be_forced(scope: Scope) -> bool:
    """A cheap superset of `_forced`, on the raw scope: POST, and a sync path or a `refresh` query."""
    if scope.get("method") != "POST":
        return False
    return scope["path"].endswith("/sync") or b"refresh" in scope.get("query_string", b"")


async def _check(request: Request[Any, Any, Any]) -> bool:
    return _forced(request)  # async: a sync handler would be run in a worker thread


def _client(request: Request[Any, Any, Any]) -> str:
    key = request.headers.get("x-api-key")
    return f"key:{hash(key)}" if key else f"addr:{get_remote_address(request)}"


def forced_refresh_limit(per_minute: int) -> Callable[[ASGIApp], ASGIApp]:
    config = RateLimitConfig(
        rate_limit=("minute", per_minute), check_throttle_handler=_check, identifier_for_request=_client
    )

    def factory(app: ASGIApp) -> ASGIApp:
        limited = RateLimitMiddleware(app, config)

        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if _may_be_forced(scope):
                await limited(scope, receive, send)
            else:
                await app(scope, receive, send)

        return middleware

    return factory
