"""Checks and normalisation of a decoded FetchResult before it goes near the database."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import pydantic_core

from vosync.shared.messages import FetchResult
from vosync.shared.vos_fields import normalise_list_items
from vosync.writer.jsontext import pg_json
from vosync.writer.vos_items import find_key

_CACHE_KEY = re.compile(r"[0-9a-f]{32}")
INT32_MAX = 2**31 - 1


class InvalidResult(ValueError):
    """A decodable FetchResult that can never be stored (wrong key shape, missing reply, …)."""


@dataclass(frozen=True, slots=True)
class CacheKey:
    """The identity of a vos_data_cache row; sorts in the order rows are locked."""

    instance_id: int
    api_path: str
    cache_key: str

    def sort_key(self) -> tuple[int, str, str]:
        return (self.instance_id, self.api_path, self.cache_key)


def checked(result: FetchResult) -> FetchResult:
    """The result with an aware fetched_at (naive = UTC); raises InvalidResult if it cannot be stored."""
    if not 0 < result.instance_id <= INT32_MAX:
        raise InvalidResult(f"instance_id {result.instance_id} is out of range")
    if not _CACHE_KEY.fullmatch(result.cache_key):
        raise InvalidResult(f"cache_key {result.cache_key[:40]!r} is not an md5 hex digest")
    if not result.api_path or len(result.api_path) > 255 or "\x00" in result.api_path:
        raise InvalidResult("api_path is empty, longer than 255 characters or has NUL")
    if not result.api_name or len(result.api_name) > 128 or "\x00" in result.api_name:
        raise InvalidResult("api_name is empty, longer than 128 characters or has NUL")
    if result.ret_code is not None and not -INT32_MAX - 1 <= result.ret_code <= INT32_MAX:
        raise InvalidResult(f"ret_code {result.ret_code} is out of range")
    if result.ok and result.response is None and result.reply_json is None:
        raise InvalidResult("a successful result without a response")
    if result.fetched_at.tzinfo is None:
        return result.model_copy(update={"fetched_at": result.fetched_at.replace(tzinfo=UTC)})
    return result


def key_of(result: FetchResult) -> CacheKey:
    return CacheKey(result.instance_id, result.api_path, result.cache_key)


def is_full_snapshot(result: FetchResult) -> bool:
    """Only an unfiltered reply lists every gateway; a filtered one is cached, not projected.

    Strictly no params: VOS answers `{"names": []}` with an empty list, not with every gateway, so a
    result still carrying an empty filter (from a producer that did not normalise it away) must not
    be taken for "every gateway went away".
    """
    return not result.params


def response_of(result: FetchResult) -> Any:
    """The parsed reply: `response`, or the reply text parsed now when it was left unparsed."""
    if result.response is None and result.reply_json is not None:
        return pydantic_core.from_json(result.reply_json)
    return result.response


def _unsafe_for_jsonb(text: bytes) -> bool:
    """Text jsonb refuses or that may need rewriting: NUL escapes, NaN/Infinity (conservative)."""
    return b"\\u0000" in text or b"NaN" in text or b"Infinity" in text


def reply_json(result: FetchResult) -> tuple[bytes, str] | None:
    """(UTF-8 JSON for a jsonb column, its md5): the bytes from the bus when they can go as they are.

    Bytes, not str: decoding 26 MB to str and asyncpg encoding it back cost ~0.3 s per reply. They
    go as bytea and PostgreSQL reads them as UTF-8 (convert_from, which also checks the encoding).
    """
    raw = result.reply_json
    if raw is None or _unsafe_for_jsonb(raw):
        response = response_of(result)
        if response is None:
            return None
        raw = pg_json(response).encode()
    return raw, hashlib.md5(raw, usedforsecurity=False).hexdigest()


def with_canonical_fields(result: FetchResult, list_key: str) -> FetchResult:
    """The result with its gateway items' keys in the canonical `…Sip` spelling (shared vos_fields).

    The poller already sends them so; a reply from another producer is brought to the same spelling
    before it is stored, so readers of the cache and of the gateways table see one spelling. A reply
    left unparsed is parsed only when its text holds "SIP" somewhere, and stays unparsed unless a
    key is rewritten.
    """
    if not result.ok:
        return result
    unparsed = result.response is None and result.reply_json is not None
    if unparsed and b"SIP" not in (result.reply_json or b""):
        return result  # no key can need rewriting
    response = response_of(result)
    if not isinstance(response, dict):
        return result
    key = find_key(response, list_key)
    items = response.get(key) if key is not None else None
    if key is None or not isinstance(items, list):
        return result
    normalised = normalise_list_items(response, key)
    if normalised is response:
        return result  # "SIP" was in a value, not a key: the reply's text still goes as it came
    rewritten = result.model_copy(update={"response": normalised})
    rewritten._reply_json = None  # the text has the old spellings
    return rewritten
