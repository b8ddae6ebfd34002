"""Reading a whole KV bucket at one moment (what is there now, expired keys gone)."""

from __future__ import annotations

import asyncio
from typing import Any

from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

SNAPSHOT_TIMEOUT_S = 5.0
# The snapshot's ordered consumer is not deleted by unsubscribing; the server drops it this long after.
_SNAPSHOT_CONSUMER_IDLE_S = 2.0


def is_removal(entry: KeyValue.Entry) -> bool:
    return entry.operation in (KV_DEL, KV_PURGE)


async def snapshot(kv: KeyValue, timeout_s: float = SNAPSHOT_TIMEOUT_S) -> dict[str, KeyValue.Entry]:
    """The live entries of the bucket, by key. Keys removed by max age are simply absent (unlike a
    long-lived watcher, which never hears of them)."""
    # Typed Any: nats-py leaves KeyWatcher's methods untyped.
    watcher: Any = await kv.watchall(ignore_deletes=True, inactive_threshold=_SNAPSHOT_CONSUMER_IDLE_S)
    entries: dict[str, KeyValue.Entry] = {}
    try:
        async with asyncio.timeout(timeout_s):
            while (entry := await watcher.updates(timeout=timeout_s)) is not None:
                if not is_removal(entry):
                    entries[entry.key] = entry
    finally:
        await watcher.stop()
    return entries
