"""JSON bytes for the hot paths: one msgspec encoder, ISO timestamps, no per-request model work."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Response
from litestar.datastructures import Cookie
from litestar.enums import MediaType
from litestar.response.base import ASGIResponse
from litestar.status_codes import HTTP_304_NOT_MODIFIED
from litestar.types import Receive, Send

if TYPE_CHECKING:
    from litestar.app import Litestar
    from litestar.background_tasks import BackgroundTask, BackgroundTasks
    from litestar.connection import Request
    from litestar.types import TypeEncodersMap

_encoder = msgspec.json.Encoder()


def dumps(value: Any) -> bytes:
    return _encoder.encode(value)


def json_response(
    body: bytes, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response[Any]:
    """Pre-serialised JSON as is: no model, no re-encoding (typed Any so any documented model fits)."""
    return Response(content=body, status_code=status_code, media_type="application/json", headers=headers)


class _PartsASGIResponse(ASGIResponse):
    def __init__(self, parts: tuple[bytes, ...], **kwargs: Any) -> None:
        super().__init__(body=b"", content_length=sum(len(part) for part in parts), **kwargs)
        self._parts = parts

    async def send_body(self, send: Send, receive: Receive) -> None:
        last = len(self._parts) - 1
        for index, part in enumerate(self._parts):
            await send({"type": "http.response.body", "body": part, "more_body": index < last})


class JsonParts(Response[Any]):
    """Pre-serialised JSON sent as consecutive parts (e.g. a small head, a large cached reply, a
    closing brace) without joining them: for a 2 MB cached reply, the join was a full copy per
    request, the largest cost of a cached read after the socket write itself (benchmark 1)."""

    def __init__(self, *parts: bytes, status_code: int = 200, headers: dict[str, str] | None = None) -> None:
        super().__init__(content=b"", status_code=status_code, media_type=MediaType.JSON, headers=headers)
        self.parts = parts

    def to_asgi_response(
        self,
        app: Litestar | None,
        request: Request[Any, Any, Any],
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: Iterable[Cookie] | None = None,
        encoded_headers: Iterable[tuple[bytes, bytes]] | None = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: MediaType | str | None = None,
        status_code: int | None = None,
        type_encoders: TypeEncodersMap | None = None,
    ) -> ASGIResponse:
        return _PartsASGIResponse(
            self.parts,
            background=self.background or background,
            cookies=self.cookies if cookies is None else itertools.chain(self.cookies, cookies),
            headers={**headers, **self.headers} if headers is not None else self.headers,
            is_head_response=is_head_response,
            media_type=MediaType.JSON,
            status_code=self.status_code,
        )


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def seconds_since(value: datetime | None, now: datetime) -> float | None:
    if value is None:
        return None
    return round((now - value).total_seconds(), 3)


@dataclass(frozen=True, slots=True)
class HeldReply:
    """A reply made of held bytes: its status, headers and body parts (sent in turn, never joined).
    Built once by pure code, answered either through Litestar (`response`) or straight over ASGI
    by the hot-read path (`raw_headers`), with the same headers either way."""

    status: int
    headers: dict[str, str]
    parts: tuple[bytes, ...] = ()

    def response(self) -> Response[Any]:
        if self.status == HTTP_304_NOT_MODIFIED:
            return json_response(b"", status_code=self.status, headers=self.headers)
        return JsonParts(*self.parts, status_code=self.status, headers=self.headers)

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """As Litestar's ASGIResponse encodes them: lower-case names, then type and length."""
        out = [
            (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in self.headers.items()
        ]
        if self.status != HTTP_304_NOT_MODIFIED:
            out.append((b"content-type", b"application/json"))
            out.append((b"content-length", str(sum(len(part) for part in self.parts)).encode()))
        return out
