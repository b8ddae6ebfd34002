"""The list of items in a VOS reply, and its items as rows keyed by their identity: the lenient walk
that gateway, phone, fee-rate-group and suite replies share (a problem is counted, never raised)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from vosync.writer.vos_items import Item, Problems, find_key

R = TypeVar("R")
K = TypeVar("K", str, int)  # an item's identity: a number, a name or an id


def reply_list(response: Any, list_key: str, problems: Problems) -> tuple[str, list[Any]] | None:
    """The reply's list and the key it is under (`list_key` in any case); None when the reply is not
    an object or the list is missing or not a list."""
    if not isinstance(response, dict):
        problems.note("reply_not_object")
        return None
    key = find_key(response, list_key)
    if key is None:
        problems.note("list_missing")
        return None
    items = response[key]
    if not isinstance(items, list):
        problems.note("list_not_array")
        return None
    return key, items


def keyed_rows(
    items: list[Any],
    problems: Problems,
    identity: str,
    key_of: Callable[[Item, Problems], K | None],
    build: Callable[[int, K, Item, Problems], R],
) -> list[R]:
    """The items as rows, sorted by their identity; of two items with one identity the last wins
    (noted `duplicate_<identity>`), an item without one is skipped (`item_without_<identity>`).
    `build` gets the item's 1-based position in the list, items that are not objects included."""
    rows: dict[K, R] = {}
    for ordinal, raw in enumerate(items, start=1):
        if not isinstance(raw, dict):
            problems.note("item_not_object")
            continue
        item = Item(raw)
        key = key_of(item, problems)
        if key is None:
            problems.note(f"item_without_{identity}")
            continue
        if key in rows:
            problems.note(f"duplicate_{identity}")
        rows[key] = build(ordinal, key, item, problems)
    return [rows[key] for key in sorted(rows)]
