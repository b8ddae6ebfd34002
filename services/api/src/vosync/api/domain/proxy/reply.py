"""A proxy reply from a cached VOS reply: the small per-request head, ETag and 304, gzip when
accepted (pure, no I/O)."""

from __future__ import annotations

from datetime import datetime

from litestar.status_codes import HTTP_200_OK, HTTP_304_NOT_MODIFIED

from vosync.api.domain.proxy.schemas import DataSource
from vosync.api.lib.directory import InstanceInfo
from vosync.api.lib.gzip_parts import MIN_GZIP_BYTES, accepts_gzip, etag_matches
from vosync.api.lib.hot_cache import CachedReply
from vosync.api.lib.jsonutil import HeldReply, dumps


def proxy_reply(
    info: InstanceInfo,
    reply: CachedReply,
    *,
    source: DataSource | None,
    error: str | None,
    revalidating: bool,
    unmasked: bool,
    if_none_match: str | None,
    accept_encoding: str | None,
    now: datetime,
) -> HeldReply:
    age_s = (now - reply.synced_at).total_seconds() if reply.synced_at else None
    head = dumps(
        {
            "success": True,
            "error": error,
            "data_source": source,
            "synced_at": reply.synced_at,
            "expires_at": reply.expires_at,
            "age_s": round(age_s, 3) if age_s is not None else None,
            "instance_name": info.name,
            "revalidating": revalidating,
        }
    )
    headers = {"ETag": reply.etag(unmasked=unmasked)}
    if (source == "stale" or revalidating) and age_s is not None:
        # RFC 9111 Age on replies past expires_at, so HTTP caches and clients see how old they are.
        headers["Age"] = str(max(0, int(age_s)))
    if if_none_match is not None and etag_matches(if_none_match, headers["ETag"]):
        return HeldReply(HTTP_304_NOT_MODIFIED, headers)
    head = head[:-1] + b',"data":'
    body = reply.body(unmasked=unmasked)
    if len(body) >= MIN_GZIP_BYTES:
        headers["Vary"] = "Accept-Encoding"
        if accepts_gzip(accept_encoding):
            # Compressed once per change; only the small head is framed per request.
            headers["Content-Encoding"] = "gzip"
            return HeldReply(HTTP_200_OK, headers, reply.gzip(unmasked=unmasked).parts(head))
    # The cached reply goes out as it is held, never copied into one joined body.
    return HeldReply(HTTP_200_OK, headers, (head, body, b"}"))
