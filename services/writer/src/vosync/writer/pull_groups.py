"""PullGroups: the messages of one pull, handed to the writer again as one batch.

FastStream's JetStream pull subscriber fetches up to `batch_size` messages (returning as soon as
any are there) and starts one handler task per message, all of them before the first one runs.
The writer wants the pull as one batch, written in one transaction. So the first handler to
arrive opens a group and lets the event loop turn until no sibling joins any more; then it applies
the group, and every handler of the group returns once the group is settled.

FastStream's own batch subscriber (`PullSub(batch=True)`) is not used: since 0.7.8 it keeps pulling
until the batch is full or its timeout ends, so a lone result would wait out the timeout (the
event latency the freshness benchmark measures), where this way it is written at once.

A sibling that arrives after the group closed (a real suspension before the handler) opens the
next group. Groups are applied one after another in the order they opened, so a late arrival costs
one more transaction, never order or safety.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")

MAX_TURNS = 8  # a group closes after this many turns of the loop even if siblings keep arriving


class _Group(Generic[T]):
    __slots__ = ("done", "items")

    def __init__(self) -> None:
        self.items: list[T] = []
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()


class PullGroups(Generic[T]):
    def __init__(self, apply: Callable[[list[T]], Coroutine[Any, Any, None]]) -> None:
        self._apply = apply
        self._open: _Group[T] | None = None
        self._turn = asyncio.Lock()  # FIFO: groups are applied in the order they opened

    async def submit(self, item: T) -> None:
        """Join the open group (or open one); return when the group has been applied."""
        group = self._open
        if group is not None:
            group.items.append(item)
            await asyncio.shield(group.done)  # the leader's cancellation must not cancel the others
            return
        group = self._open = _Group()
        group.items.append(item)
        try:
            await self._gather(group)
            async with self._turn:
                # A task of its own with an empty context: callbacks the work schedules (a pool's
                # idle-connection timers, say) keep a copy of the context they were scheduled in,
                # and FastStream's context holds the pulled message, so a copy would keep a large
                # reply alive for minutes. Cancelling the leader cancels this task with it.
                await asyncio.create_task(self._apply(group.items), context=contextvars.Context())
        finally:
            if self._open is group:
                self._open = None
            if not group.done.done():
                group.done.set_result(None)

    async def _gather(self, group: _Group[T]) -> None:
        for _ in range(MAX_TURNS):
            joined = len(group.items)
            await asyncio.sleep(0)  # every handler task already started runs up to submit()
            if len(group.items) == joined:
                break
        self._open = None
