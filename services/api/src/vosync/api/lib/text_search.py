"""The `q` filter of the list routes: a case-insensitive substring search over some columns."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_

_ESCAPE = "\\"


def _like_pattern(text: str) -> str:
    # The user's text is a literal substring: LIKE's wildcards in it must not match anything.
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def contains_any(text: str, *columns: ColumnElement[Any]) -> ColumnElement[bool]:
    """`text` occurs, ignoring case, in at least one of `columns`."""
    pattern = _like_pattern(text)
    return or_(*(column.ilike(pattern, escape=_ESCAPE) for column in columns))
