"""The VOS instances this poller knows, kept in step with the KV bucket `vosync_instances`.

A watcher applies every put and delete as it happens (an instance added, changed, disabled or
removed takes effect within a second); a periodic full re-read repairs anything a watcher missed
while NATS was restarting. Listeners hear of each instance whose record changed.

The bucket comes from `broker.key_value(..., declare=False)` (nats-py's KeyValue). The watch stays a
nats-py `watchall()` rather than a FastStream KV-watch subscriber: FastStream's subscriber makes its
watcher once and only loops on `updates()` (swallowing timeouts and closed connections), so a
watcher that fails is never re-made; this loop re-makes it after any failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from nats.errors import Error as NatsError
from nats.js.kv import KeyValue
from pydantic import ValidationError

from vosync.shared.instances import InstanceRecord
from vosync.shared.kv import is_removal, snapshot
from vosync.shared.tasks import cancel_and_wait

log = logging.getLogger(__name__)

RESYNC_INTERVAL_S = 30.0
WATCH_RETRY_S = 1.0

# (instance id, the record now or None when removed)
Listener = Callable[[int, InstanceRecord | None], None]


def parse_entry(key: str, value: bytes | None) -> InstanceRecord | None:
    """The record of a KV entry, or None (with a warning) when the entry is not a usable record."""
    try:
        instance_id = int(key)
    except ValueError:
        log.warning("ignoring instance entry with a non-numeric key", extra={"key": key})
        return None
    try:
        record = InstanceRecord.from_kv(value or b"")
    except ValidationError as exc:
        log.warning(
            "ignoring unreadable instance entry",
            extra={"key": key, "error": str(exc.errors()[0]["msg"]) if exc.errors() else str(exc)},
        )
        return None
    if record.id != instance_id:
        log.warning("ignoring instance entry whose id is not its key", extra={"key": key, "id": record.id})
        return None
    return record


class WatchedInstances:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv
        self._records: dict[int, InstanceRecord] = {}
        self._listeners: list[Listener] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    # -- reading ---------------------------------------------------------------------------------
    def get(self, instance_id: int) -> InstanceRecord | None:
        return self._records.get(instance_id)

    def enabled_ids(self) -> set[int]:
        return {i for i, r in self._records.items() if r.enabled}

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Read the bucket once (so the poller knows every instance when start returns), then watch."""
        await self.resync()
        self._tasks = [
            asyncio.create_task(self._watch(), name="instances-watch"),
            asyncio.create_task(self._resync_loop(), name="instances-resync"),
        ]

    async def stop(self) -> None:
        self._closing = True
        await cancel_and_wait(self._tasks)
        self._tasks = []

    async def resync(self) -> None:
        """Re-read the whole bucket and apply the differences."""
        entries = await snapshot(self._kv)
        seen: set[int] = set()
        for key, entry in entries.items():
            record = parse_entry(key, entry.value)
            if record is not None:
                seen.add(record.id)
                self._apply(record.id, record)
        for instance_id in set(self._records) - seen:
            self._apply(instance_id, None)

    # -- internals -------------------------------------------------------------------------------
    def _apply(self, instance_id: int, record: InstanceRecord | None) -> None:
        old = self._records.get(instance_id)
        if old == record:
            return
        if record is None:
            del self._records[instance_id]
        else:
            self._records[instance_id] = record
        log.info(
            "instance removed" if record is None else ("instance changed" if old else "instance added"),
            extra={
                "instance_id": instance_id,
                "enabled": record.enabled if record else None,
                "base_url": record.base_url if record else None,
            },
        )
        for listener in self._listeners:
            listener(instance_id, record)

    def _apply_entry(self, entry: KeyValue.Entry) -> None:
        if is_removal(entry):
            with contextlib.suppress(ValueError):
                self._apply(int(entry.key), None)
            return
        record = parse_entry(entry.key, entry.value)
        if record is not None:
            self._apply(record.id, record)
        else:
            with contextlib.suppress(ValueError):
                self._apply(int(entry.key), None)  # an unusable record means: do not poll it

    async def _watch(self) -> None:
        while not self._closing:
            try:
                watcher: Any = await self._kv.watchall()  # KeyWatcher's methods are untyped
                try:
                    async for entry in watcher:
                        if self._closing:
                            return
                        if entry is not None:  # None marks the end of the initial values
                            self._apply_entry(entry)
                finally:
                    with contextlib.suppress(NatsError, TimeoutError, OSError):
                        await watcher.stop()
            except (NatsError, TimeoutError, OSError) as exc:
                log.warning("instances watch failed; retrying", extra={"error": repr(exc)})
            await asyncio.sleep(WATCH_RETRY_S)

    async def _resync_loop(self) -> None:
        while not self._closing:
            await asyncio.sleep(RESYNC_INTERVAL_S)
            try:
                await self.resync()
            except (NatsError, TimeoutError, OSError) as exc:
                log.warning("instances re-read failed", extra={"error": repr(exc)})
