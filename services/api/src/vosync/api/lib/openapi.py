"""OpenAPI pieces shared by the controllers: documented error replies and the API-key scheme."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.openapi import ResponseSpec
from litestar.openapi.spec import (
    Components,
    OpenAPIHeader,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Schema,
    SecurityScheme,
)

from vosync.api.lib.errors import ErrorBody

_MEANINGS = {
    400: "Bad input: malformed body, bad query value",
    401: "A valid X-API-Key is required",
    403: "The key's role does not allow this, or a VOS write API",
    404: "Unknown instance, API or record",
    409: "Conflicts with an existing record",
    429: "Too many forced refreshes or syncs from this client (VOSYNC_API_REFRESH_RATE_PER_MINUTE); "
    "Retry-After says when to try again",
    502: "VOS answered with an error and nothing is cached",
    503: "Pollers, database or message bus unreachable and nothing is cached",
}

API_KEY_SCHEME = "ApiKey"
COMPONENTS = Components(
    security_schemes={
        API_KEY_SCHEME: SecurityScheme(
            type="apiKey",
            name="X-API-Key",
            security_scheme_in="header",
            description="Roles: read (all reads) and admin (also instance changes, invalidation, sync)",
        )
    }
)


def error_responses(*codes: int) -> dict[int, ResponseSpec]:
    return {
        code: ResponseSpec(data_container=ErrorBody, description=_MEANINGS.get(code, "Error"))
        for code in codes
    }


RETRY_AFTER = OpenAPIHeader(
    schema=Schema(type=OpenAPIType.INTEGER, minimum=1),
    description="seconds until the client may force a refresh again",
    required=True,
)


@dataclass
class RateLimitedOperation(Operation):
    """An operation the refresh rate limit covers: its 429 reply carries Retry-After (ResponseSpec
    cannot declare response headers, so the operation adds it)."""

    def __post_init__(self) -> None:
        limited = (self.responses or {}).get("429")
        if isinstance(limited, OpenAPIResponse):
            limited.headers = {**(limited.headers or {}), "Retry-After": RETRY_AFTER}
