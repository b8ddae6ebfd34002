"""Input checks shared by the domains, so bad input is a 400/404 with a message, never a database error."""

from __future__ import annotations

from litestar.exceptions import ClientException, NotFoundException

MAX_DB_INT = 2**31 - 1  # PostgreSQL integer


def check_text(value: str, what: str) -> str:
    """Text PostgreSQL can store: no NUL characters, encodable as UTF-8 (no lone surrogates)."""
    if "\x00" in value:
        raise ClientException(detail=f"{what} must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ClientException(detail=f"{what} is not valid Unicode text") from None
    return value


def check_instance_id(instance_id: int) -> int:
    """Ids outside PostgreSQL's integer range cannot exist: unknown, not a database error."""
    if not 1 <= instance_id <= MAX_DB_INT:
        raise NotFoundException(detail=f"unknown instance {instance_id}")
    return instance_id
