"""The HTTP client of one VOS3000 instance: every call becomes a FetchResult, never an exception.

VOS answers `POST /external/server/<Name>` with a JSON object `{"retCode": int, "exception": str?, …}`
(0 = success) and with an empty body when it cannot parse the request, so the body is always at least
`{}`. The content type is the one the VOS manual names (VOS parses the raw body whatever it says).

Outcomes (FetchResult.error_kind): timeout (no full answer within the instance's timeout), connect
(any other transport failure), http_status (a non-2xx status), empty_body, bad_json (not JSON, not an
object, or no integer retCode), ret_code (VOS answered retCode ≠ 0; `ret_code` and the `exception`
text are kept, and `response` holds VOS's reply — readers must look at `ok`).

Gateway replies have the keys of their list items rewritten to the canonical `Sip` spelling
(vosync.shared.vos_fields), so `dtmfSendMethodSIP` and `dtmfSendMethodSip` arrive as one field.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import logging
import ssl
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import pydantic_core

from vosync.shared.cache_key import cache_key
from vosync.shared.catalogue import ApiSpec, Projection
from vosync.shared.instances import InstanceRecord
from vosync.shared.messages import ErrorKind, FetchReason, FetchResult, utcnow
from vosync.shared.vos_fields import normalise_list_items

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/html;charset=UTF-8"
_MAX_ERROR_CHARS = 300


@dataclass(frozen=True, slots=True)
class ReplyReading:
    """What an HTTP answer means, before it is stamped with who fetched it and when."""

    ok: bool
    error_kind: ErrorKind | None = None
    error: str | None = None
    ret_code: int | None = None
    response: dict[str, Any] | None = None


def _short(text: str) -> str:
    return text if len(text) <= _MAX_ERROR_CHARS else text[:_MAX_ERROR_CHARS] + "…"


def _parse_json(body: bytes) -> Any:
    """pydantic-core's parser: about twice as fast as json.loads on VOS replies (the poller's largest
    CPU cost at 500 instances), the same values (NaN/Infinity, big integers). It refuses a lone
    surrogate escape, which json.loads took and the publish then failed on; a UTF-8 BOM is skipped,
    as json.loads does."""
    return pydantic_core.from_json(body.removeprefix(codecs.BOM_UTF8))


def classify_reply(status: int, body: bytes) -> ReplyReading:
    """Read one VOS HTTP answer (status and raw body) into an outcome."""
    if not 200 <= status < 300:
        return ReplyReading(False, ErrorKind.HTTP_STATUS, f"HTTP {status}")
    if not body.strip():
        return ReplyReading(False, ErrorKind.EMPTY_BODY, "VOS answered with an empty body")
    try:
        reply = _parse_json(body)
    except (ValueError, RecursionError) as exc:
        return ReplyReading(False, ErrorKind.BAD_JSON, _short(f"not JSON: {exc}"))
    if not isinstance(reply, dict):
        kind = type(reply).__name__
        return ReplyReading(False, ErrorKind.BAD_JSON, f"reply is a JSON {kind}, not an object")
    code = reply.get("retCode")
    if isinstance(code, bool) or not isinstance(code, int):
        return ReplyReading(False, ErrorKind.BAD_JSON, "reply has no integer retCode")
    if code != 0:
        exception = reply.get("exception")
        text = f"retCode {code}" + (f": {exception}" if exception else "")
        return ReplyReading(False, ErrorKind.RET_CODE, _short(text), ret_code=code, response=reply)
    return ReplyReading(True, ret_code=0, response=reply)


def normalise_reply(spec: ApiSpec, reply: dict[str, Any]) -> dict[str, Any]:
    """Canonical field spellings in the item lists of gateway replies; other replies as they came."""
    if spec.projection is Projection.NONE or spec.gateway_type is None or spec.list_key is None:
        return reply
    return normalise_list_items(reply, spec.list_key)


@dataclass(frozen=True, slots=True)
class VosCall:
    """A FetchResult plus what the breaker needs that the result does not carry."""

    result: FetchResult
    http_status: int | None

    @property
    def transport_failure(self) -> bool:
        """Timeout, connect, or an HTTP 5xx: the path to VOS is failing (back off). A 4xx is not."""
        kind = self.result.error_kind
        if kind is None or not kind.is_transport:
            return False
        return kind is not ErrorKind.HTTP_STATUS or (self.http_status or 0) >= 500


class VosClient:
    """One pooled connection set to one VOS instance; `aclose()` when the instance goes away."""

    def __init__(
        self,
        record: InstanceRecord,
        *,
        default_timeout_s: float,
        max_connections: int,
        poller_id: str,
        verify: ssl.SSLContext | bool = True,
        max_reply_bytes: int | None = None,
    ) -> None:
        self.record = record
        self.max_reply_bytes = max_reply_bytes
        self.timeout_s = record.timeout_s or default_timeout_s
        self._poller_id = poller_id
        self._url = record.base_url.rstrip("/")
        # aiohttp, not httpx: at 500 instances on 10× schedules the poller spent two thirds of its CPU
        # inside httpx/httpcore/anyio (~1 ms per call against ~0.2 ms here); see benchmarks/README.md.
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=max_connections, ssl=verify),
            headers={"Content-Type": CONTENT_TYPE, "Accept": "application/json"},
            timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            # No HTTP(S)_PROXY / .netrc lookups: trust_env=True costs a lookup per call, and at 500
            # instances cut the poller to a fifth of its rate (benchmark 5); VOS is reached directly.
            trust_env=False,
        )

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes | None:
        """The body, or None when it is larger than max_reply_bytes (read no further than that: a
        reply the bus cannot carry is not worth holding in memory)."""
        cap = self.max_reply_bytes
        if cap is None:
            return await response.read()
        if response.content_length is not None and response.content_length > cap:
            return None
        chunks: list[bytes] = []  # joined once: appending to bytes would copy a 26 MB reply per chunk
        size = 0
        async for chunk in response.content.iter_any():
            size += len(chunk)
            if size > cap:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self) -> ReplyReading:
        return ReplyReading(
            False,
            ErrorKind.TOO_LARGE,
            f"VOS reply larger than {self.max_reply_bytes} bytes (VOSYNC_VOS_MAX_REPLY_BYTES)",
        )

    async def aclose(self) -> None:
        await self._http.close()

    async def fetch(
        self,
        spec: ApiSpec,
        params: dict[str, Any] | None = None,
        *,
        reason: FetchReason = FetchReason.SCHEDULE,
        lease_revision: int | None = None,
    ) -> VosCall:
        params = dict(params or {})
        body = json.dumps(params, ensure_ascii=False).encode("utf-8")  # `{}` at least, never empty
        started = time.monotonic()
        status: int | None = None
        try:
            # The whole call is bounded, a VOS trickling bytes included.
            url = self._url + spec.path
            async with asyncio.timeout(self.timeout_s):
                async with self._http.post(url, data=body, allow_redirects=False) as response:
                    status = response.status
                    content = await self._read_capped(response)
            outcome = classify_reply(status, content) if content is not None else self._too_large()
        except TimeoutError:  # asyncio's and aiohttp's timeouts alike
            outcome = ReplyReading(False, ErrorKind.TIMEOUT, f"no answer within {self.timeout_s:g} s")
        except aiohttp.ClientError as exc:
            outcome = ReplyReading(False, ErrorKind.CONNECT, _short(f"{type(exc).__name__}: {exc}"))
        except OSError as exc:  # a socket error aiohttp did not wrap
            outcome = ReplyReading(False, ErrorKind.CONNECT, _short(f"{type(exc).__name__}: {exc}"))
        response_data = outcome.response
        if outcome.ok and response_data is not None:
            response_data = normalise_reply(spec, response_data)
        result = FetchResult(
            instance_id=self.record.id,
            api_name=spec.name,
            api_path=spec.path,
            params=params,
            cache_key=cache_key(spec.path, params),
            ok=outcome.ok,
            ret_code=outcome.ret_code,
            error=outcome.error,
            error_kind=outcome.error_kind,
            response=response_data,
            fetched_at=utcnow(),
            duration_ms=round((time.monotonic() - started) * 1000, 3),
            poller_id=self._poller_id,
            lease_revision=lease_revision,
            reason=reason,
        )
        return VosCall(result, status)
