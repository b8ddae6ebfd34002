"""PullGroups: the messages of one pull, handed to the writer again as one batch.

FastStream's JetStream pull subscriber fetches up to `batch_size` messages (returning as soon as
any are there) and starts one handler task per message. The writer wants the pull as one batch,
written in one transaction. The pull tells how many messages it brought (`expect`); the first
handler to arrive opens a group, waits until that many have joined, applies the group, and every
handler of the group returns once the group is settled.

FastStream's own batch subscriber (`PullSub(batch=True)`) is not used: since 0.7.8 it keeps pulling
until the batch is full or its timeout ends, so a lone result would wait out the timeout (the
event latency the freshness benchmark measures), where this way it is written at once.

A handler that never arrives (FastStream failed it before the handler) costs the group at most
GATHER_TIMEOUT_S, after which it is applied with what it has; groups are applied one after another
in the order they opened, so a late arrival costs one more transaction, never order or safety.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")

GATHER_TIMEOUT_S = 0.25


class _Group(Generic[T]):
    __slots__ = ("done", "full", "items", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: list[T] = []
        self.full = asyncio.Event()
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def add(self, item: T) -> None:
        self.items.append(item)
        if len(self.items) >= self.size:
            self.full.set()


class PullGroups(Generic[T]):
    def __init__(self, apply: Callable[[list[T]], Coroutine[Any, Any, None]]) -> None:
        self._apply = apply
        self._open: _Group[T] | None = None
        self._expected = 0
        self._turn = asyncio.Lock()  # FIFO: groups are applied in the order they opened

    def expect(self, count: int) -> None:
        """The next `count` submissions are one pull."""
        self._expected = count

    async def submit(self, item: T) -> None:
        """Join the open group (or open one); return when the group has been applied."""
        group = self._open
        if group is not None:
            group.add(item)
            await asyncio.shield(group.done)  # the leader's cancellation must not cancel the others
            return
        group = self._open = _Group(max(self._expected, 1))
        self._expected = 0
        group.add(item)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(group.full.wait(), GATHER_TIMEOUT_S)
            self._open = None
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
