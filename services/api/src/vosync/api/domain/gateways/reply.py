"""The gateway list reply from its held bytes: ETag and 304, gzip when accepted (pure, no I/O)."""

from __future__ import annotations

from litestar.status_codes import HTTP_200_OK, HTTP_304_NOT_MODIFIED

from vosync.api.lib.gzip_parts import accepts_gzip, etag_matches
from vosync.api.lib.jsonutil import HeldReply
from vosync.api.lib.list_cache import CachedList


def list_reply(cached: CachedList, if_none_match: str | None, accept_encoding: str | None) -> HeldReply:
    headers = {"ETag": cached.etag}
    if if_none_match is not None and etag_matches(if_none_match, cached.etag):
        return HeldReply(HTTP_304_NOT_MODIFIED, headers)
    if cached.compressible:
        headers["Vary"] = "Accept-Encoding"
        if accepts_gzip(accept_encoding):
            headers["Content-Encoding"] = "gzip"
            return HeldReply(HTTP_200_OK, headers, cached.gzip_parts())
    # Held bytes sent as they are; only age_s is made now.
    return HeldReply(HTTP_200_OK, headers, cached.parts())
