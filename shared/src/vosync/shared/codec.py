"""Bytes on the bus: JSON bodies, compressed when large (a 10,000-gateway reply is several MB)."""

from __future__ import annotations

import zlib
from typing import TypeVar

import pydantic_core
from pydantic import BaseModel

ENCODING_HEADER = "Vosync-Encoding"
ZLIB = "zlib"
COMPRESS_ABOVE_BYTES = 128 * 1024

M = TypeVar("M", bound=BaseModel)


def encode(model: BaseModel) -> tuple[bytes, dict[str, str]]:
    body = model.model_dump_json().encode()
    if len(body) <= COMPRESS_ABOVE_BYTES:
        return body, {}
    return zlib.compress(body, 1), {ENCODING_HEADER: ZLIB}


def decode_bytes(data: bytes, headers: dict[str, str] | None) -> bytes:
    if headers and headers.get(ENCODING_HEADER) == ZLIB:
        return zlib.decompress(data)
    return data


def decode(model: type[M], data: bytes, headers: dict[str, str] | None = None) -> M:
    # Parse, then validate the Python objects: for a FetchResult carrying a 26 MB reply this takes
    # ~0.12 s instead of ~0.19 s for model_validate_json, whose `dict[str, Any]` handling walks the
    # whole reply again; the result is the same model (tests/unit/test_messages.py).
    return model.model_validate(pydantic_core.from_json(decode_bytes(data, headers)))
