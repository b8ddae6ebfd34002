"""OpenAPI pieces shared by the controllers: documented error replies and the API-key scheme."""

from __future__ import annotations

from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Components, SecurityScheme

from vosync.api.lib.errors import ErrorBody

_MEANINGS = {
    400: "Bad input: malformed body, bad query value",
    401: "A valid X-API-Key is required",
    403: "The key's role does not allow this, or a VOS write API",
    404: "Unknown instance, API or record",
    409: "Conflicts with an existing record",
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
