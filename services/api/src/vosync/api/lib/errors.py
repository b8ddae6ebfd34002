"""Every error is JSON `{"status_code", "detail"[, "extra"]}`; a 500 only for a real bug, logged.

Failures of what the api depends on (PostgreSQL, NATS) become 503, bad values that reach the
database become 400, uniqueness conflicts 409: no input can produce a 500.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
import nats.errors
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_409_CONFLICT,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_502_BAD_GATEWAY,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from sqlalchemy import exc as sa_exc

from vosync.api.lib.jsonutil import dumps, json_response

log = logging.getLogger(__name__)

# SQLSTATE classes that say nothing about the request: 08 connection exception (e.g. "connection was
# closed in the middle of operation"), 53 insufficient resources (too many connections), 57P operator
# intervention ("the database system is shutting down" / "is starting up", admin shutdown).
_UNAVAILABLE_SQLSTATES = ("08", "53", "57P")


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """The body of every error reply."""

    status_code: int
    detail: str
    extra: dict[str, Any] | list[Any] | None = None


class BadGatewayException(HTTPException):
    """VOS answered with an error (or could not be reached by the poller) and nothing is cached."""

    status_code = HTTP_502_BAD_GATEWAY


class ConflictException(HTTPException):
    status_code = HTTP_409_CONFLICT


def error_response(
    status_code: int,
    detail: str,
    extra: dict[str, Any] | list[Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    body = ErrorBody(status_code=status_code, detail=detail, extra=extra)
    return json_response(dumps(body), status_code, headers)


def _max_body_bytes(request: Request[Any, Any, Any]) -> int | None:
    settings = getattr(request.app.state, "settings", None)
    return getattr(settings, "api_max_body_bytes", None)


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, HTTPException):
        if exc.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
            limit = _max_body_bytes(request)
            return error_response(HTTP_400_BAD_REQUEST, f"request body larger than {limit} bytes")
        if exc.status_code == HTTP_429_TOO_MANY_REQUESTS:  # the rate limiter tells when, as RateLimit-Reset
            headers = dict(exc.headers or {})
            headers["Retry-After"] = str(max(1, int(headers.get("RateLimit-Reset", "1") or 1)))
            return error_response(
                HTTP_429_TOO_MANY_REQUESTS,
                f"too many forced refreshes; retry after {headers['Retry-After']} s",
                headers=headers,
            )
        if isinstance(exc, ValidationException):
            return error_response(HTTP_400_BAD_REQUEST, exc.detail, exc.extra, exc.headers)
        return error_response(exc.status_code, exc.detail, exc.extra, exc.headers)
    if isinstance(exc, RecursionError):  # a JSON body nested thousands deep, failing to decode
        return error_response(HTTP_400_BAD_REQUEST, "request body nested too deeply")
    if isinstance(exc, UnicodeDecodeError):
        # msgspec raises this, not a DecodeError, for a JSON body whose strings are not UTF-8; Litestar
        # turns only DecodeErrors into 400s.
        return error_response(HTTP_400_BAD_REQUEST, "the request body is not valid UTF-8 JSON")
    if isinstance(exc, sa_exc.IntegrityError):
        return error_response(HTTP_409_CONFLICT, "conflicts with an existing record")
    if isinstance(exc, sa_exc.DataError):
        return error_response(HTTP_400_BAD_REQUEST, f"invalid value: {_first_line(exc.orig)}")
    if database_unavailable(exc):
        log.warning("database unavailable", extra={"path": request.url.path, "error": _first_line(exc)})
        return error_response(HTTP_503_SERVICE_UNAVAILABLE, "database unavailable")
    if isinstance(exc, nats.errors.Error):
        log.warning("nats unavailable", extra={"path": request.url.path, "error": repr(exc)})
        return error_response(HTTP_503_SERVICE_UNAVAILABLE, "message bus unavailable")
    if isinstance(exc, OSError | TimeoutError):
        log.warning("dependency unavailable", extra={"path": request.url.path, "error": repr(exc)})
        return error_response(HTTP_503_SERVICE_UNAVAILABLE, "a service the api depends on is unavailable")
    log.error(
        "unhandled error",
        exc_info=exc,
        extra={"path": request.url.path, "method": request.method},
    )
    return error_response(HTTP_500_INTERNAL_SERVER_ERROR, "internal error (logged by the api)")


def database_unavailable(exc: BaseException) -> bool:
    """PostgreSQL down, starting, stopping or out of connections, whatever DBAPI class the driver's
    error was mapped to (asyncpg's "the database system is starting up" arrives as a plain DBAPIError)."""
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        state = getattr(exc.orig, "sqlstate", None) or ""
        return exc.connection_invalidated or state.startswith(_UNAVAILABLE_SQLSTATES)
    return isinstance(exc, OSError | TimeoutError)


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else type(value).__name__
