"""The loop of a Server-Sent Events stream: the first bytes at once, a keepalive comment while idle.

Both SSE domains (events: online transitions; changes: "rows changed" hints) stream the same way and
differ only in what they wait for and what an item becomes on the wire.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from litestar import Request
from litestar.response import ServerSentEventMessage

RETRY_MS = 3000  # how long EventSource waits before it reconnects

T = TypeVar("T")


def keepalive_seconds(request: Request[Any, Any, Any]) -> float:
    """The idle time after which a stream sends a keepalive comment (VOSYNC_API_SSE_KEEPALIVE_S)."""
    seconds: float = request.app.state.settings.api_sse_keepalive_s
    return seconds


def connected() -> ServerSentEventMessage:
    """The first message: the client knows the subscription is live from here on."""
    return ServerSentEventMessage(comment="connected", retry=RETRY_MS, data=None)


async def live(
    next_item: Callable[[], Awaitable[T | None]],
    render: Callable[[T], ServerSentEventMessage | None],
    keepalive_s: float,
) -> AsyncIterator[ServerSentEventMessage]:
    """`render` of each item `next_item` gives, until it gives None (the stream is over); a
    keepalive comment for every `keepalive_s` without an item. An item `render` makes None of is
    skipped."""
    while True:
        try:
            item = await asyncio.wait_for(next_item(), keepalive_s)
        except TimeoutError:
            yield ServerSentEventMessage(comment="keepalive", data=None)
            continue
        if item is None:
            return
        message = render(item)
        if message is not None:
            yield message
