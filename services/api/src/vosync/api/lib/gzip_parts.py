"""A gzip reply made of a small per-request head and a large body compressed once.

A cached proxy reply is `head + body`: the head (data_source, age_s, …) differs per request, the body
(the VOS reply, up to megabytes) only per change. Compressing the whole reply per request would cost
more than serving it; instead the body is deflated once, and each request sends

    gzip header | the head as one stored (uncompressed) deflate block | the body's deflate blocks | trailer

which is one valid gzip member (RFC 1951/1952): a stored block ends byte-aligned and is not final,
so the body's blocks, made by a fresh compressor ending in a final block, continue the stream. The
trailer's CRC-32 of `head + body` comes from the body's CRC without reading the body again: CRC-32 is
affine in its starting value, so `crc32(body, start) = M·start ⊕ crc32(body)` with a 32×32 matrix M
that depends only on len(body), found once per body (32 columns).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

# Smaller replies are sent plain: the gzip framing and a request's CPU buy nothing there.
MIN_GZIP_BYTES = 1024
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no name, mtime 0, OS unknown
_MAX_STORED = 0xFFFF  # one stored block holds at most 65,535 bytes


@dataclass(frozen=True, slots=True)
class GzipBody:
    deflated: bytes  # raw deflate of the body, ending in a final block
    crc: int  # crc32(body)
    size: int  # len(body)
    shift: tuple[int, ...]  # column i: M·(1 << i), for carrying a head's CRC over the body

    @classmethod
    def of(cls, body: bytes, level: int = 6) -> GzipBody:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        deflated = compressor.compress(body) + compressor.flush(zlib.Z_FINISH)
        zeros = bytes(len(body))
        base = zlib.crc32(zeros, 0)
        shift = tuple(zlib.crc32(zeros, 1 << bit) ^ base for bit in range(32))
        return cls(deflated, zlib.crc32(body), len(body), shift)

    def _carry(self, head_crc: int) -> int:
        """crc32(head + body) from crc32(head)."""
        crc, bit = self.crc, 0
        while head_crc:
            if head_crc & 1:
                crc ^= self.shift[bit]
            head_crc >>= 1
            bit += 1
        return crc

    def parts(self, head: bytes) -> tuple[bytes, bytes, bytes]:
        """The gzip reply of `head + body`, as three parts to send in turn."""
        if len(head) > _MAX_STORED:
            raise ValueError("a gzip head must fit one stored block")
        stored = b"\x00" + struct.pack("<HH", len(head), len(head) ^ 0xFFFF) + head  # BFINAL=0, stored
        trailer = struct.pack("<II", self._carry(zlib.crc32(head)), (len(head) + self.size) & 0xFFFFFFFF)
        return _GZIP_HEADER + stored, self.deflated, trailer


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding header allows gzip (RFC 9110 §12.5.3: `gzip`, or `*`, with q > 0)."""
    if not accept_encoding:
        return False
    named: float | None = None
    star: float | None = None
    for item in accept_encoding.split(","):
        coding, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0  # a malformed weight refuses rather than guesses
        coding = coding.strip().lower()
        if coding in ("gzip", "x-gzip"):
            named = q
        elif coding == "*":
            star = q
    weight = named if named is not None else star
    return weight is not None and weight > 0


def etag_matches(if_none_match: str, etag: str) -> bool:
    """If-None-Match against our entity tag, by weak comparison (RFC 9110 §13.1.2)."""
    if if_none_match.strip() == "*":
        return True
    ours = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == ours for tag in if_none_match.split(","))
