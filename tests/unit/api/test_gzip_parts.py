"""The gzip framing of a per-request head around a body compressed once, and Accept-Encoding."""

from __future__ import annotations

import gzip
import os
import zlib

import pytest

from vosync.api.lib.gzip_parts import GzipBody, accepts_gzip, etag_matches


@pytest.mark.parametrize("size", [0, 1, 1000, 70_000, 300_000])
@pytest.mark.parametrize("head", [b"", b"{", b'{"success":true,"age_s":1.25,"data":', os.urandom(3000)])
def test_parts_decompress_to_head_plus_body(size: int, head: bytes) -> None:
    body = (os.urandom(size // 4).hex().encode() * 2)[:size]
    packed = b"".join(GzipBody.of(body).parts(head))
    strict = zlib.decompressobj(16 + zlib.MAX_WBITS)  # checks the CRC and the length
    assert strict.decompress(packed) == head + body and strict.eof and not strict.unused_data
    assert gzip.decompress(packed) == head + body


def test_a_head_too_large_for_one_stored_block_is_refused() -> None:
    with pytest.raises(ValueError, match="stored block"):
        GzipBody.of(b"x").parts(b"h" * 70_000)


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        (None, False),
        ("", False),
        ("gzip", True),
        ("GZIP", True),
        ("gzip, deflate, br", True),
        ("br;q=1, gzip;q=0.1", True),
        ("gzip;q=0", False),
        ("gzip;q=0.0, *", False),
        ("*", True),
        ("*;q=0", False),
        ("identity", False),
        ("deflate", False),
        ("gzip;q=nonsense", False),
        ("x-gzip", True),
    ],
)
def test_accept_encoding(header: str | None, accepted: bool) -> None:
    assert accepts_gzip(header) is accepted


def test_etag_weak_comparison() -> None:
    tag = 'W/"abc-1"'
    assert etag_matches(tag, tag) and etag_matches('"abc-1"', tag) and etag_matches("*", tag)
    assert etag_matches('"x", W/"abc-1"', tag)
    assert not etag_matches('"abc-2"', tag) and not etag_matches("", tag)
