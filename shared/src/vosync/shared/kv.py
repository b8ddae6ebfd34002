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
    watcher: Any = await kv.watchall(inactive_threshold=_SNAPSHOT_CONSUMER_IDLE_S)
    entries: dict[str, KeyValue.Entry] = {}
    received = 0

    def apply(entry: KeyValue.Entry) -> None:
        if is_removal(entry):
            entries.pop(entry.key, None)
        else:
            entries[entry.key] = entry

    try:
        async with asyncio.timeout(timeout_s):
            while (entry := await watcher.updates(timeout=timeout_s)) is not None:
                received += 1
                apply(entry)
            # nats-py decides when to send its "initial values done" marker from a consumer info that
            # races the first deliveries, so the marker can come before entries already on the wire
            # (seen: an empty snapshot of a full bucket about once in 1,500). Wait for every message
            # the consumer says it delivered.
            info = await watcher._sub.consumer_info()
            while received < info.delivered.consumer_seq:
                entry = await watcher.updates(timeout=timeout_s)
                if entry is not None:
                    received += 1
                    apply(entry)
    finally:
        await watcher.stop()
    return entries
