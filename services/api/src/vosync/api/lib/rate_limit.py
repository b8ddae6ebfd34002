"""Per-client rate of forced refreshes (`refresh=true` reads and POST /instances/{id}/sync).

The cooldown in the proxy and sync services keeps one key from reaching VOS more than once per
cooldown; this limit (Litestar's rate limiting middleware) stops one client from sweeping many keys.
Plain reads are never limited: they are served from caches. A client is its API key, else its
address. Over the limit: 429 with Retry-After (added in lib/errors.py).
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.middleware.rate_limit import RateLimitConfig, get_remote_address


def _forced(request: Request[Any, Any, Any]) -> bool:
    if request.method != "POST":
        return False
    if request.url.path.endswith("/sync"):
        return True
    return request.query_params.get("refresh", "").lower() in ("true", "1")


def _client(request: Request[Any, Any, Any]) -> str:
    key = request.headers.get("x-api-key")
    return f"key:{hash(key)}" if key else f"addr:{get_remote_address(request)}"


def forced_refresh_limit(per_minute: int) -> RateLimitConfig:
    return RateLimitConfig(
        rate_limit=("minute", per_minute), check_throttle_handler=_forced, identifier_for_request=_client
    )
