"""PullGroups gives the writer one batch per pull, applied in order, whatever the handlers do."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from vosync.writer import pull_groups
from vosync.writer.pull_groups import PullGroups


class Recorder:
    def __init__(self, hold: asyncio.Event | None = None) -> None:
        self.batches: list[list[int]] = []
        self.hold = hold

    async def apply(self, items: list[int]) -> None:
        self.batches.append(list(items))
        if self.hold is not None:
            await self.hold.wait()


async def pull(groups: PullGroups[int], items: range) -> list[asyncio.Task[None]]:
    """As FastStream's pull loop does: one handler task per pulled message."""
    groups.expect(len(items))
    return [asyncio.create_task(groups.submit(i)) for i in items]


async def test_the_handlers_of_one_pull_form_one_batch() -> None:
    recorder = Recorder()
    groups: PullGroups[int] = PullGroups(recorder.apply)
    await asyncio.gather(*await pull(groups, range(50)))
    assert recorder.batches == [list(range(50))]


async def test_handlers_arriving_over_several_turns_still_form_one_batch() -> None:
    recorder = Recorder()
    groups: PullGroups[int] = PullGroups(recorder.apply)
    groups.expect(30)

    async def late(i: int) -> None:
        for _ in range(i % 3):  # real suspensions before the handler, as in FastStream's chain
            await asyncio.sleep(0)
        await groups.submit(i)

    await asyncio.gather(*(late(i) for i in range(30)))
    assert [sorted(b) for b in recorder.batches] == [list(range(30))]


async def test_a_handler_that_never_comes_delays_its_batch_only_so_long(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pull_groups, "GATHER_TIMEOUT_S", 0.05)
    recorder = Recorder()
    groups: PullGroups[int] = PullGroups(recorder.apply)
    groups.expect(3)
    await asyncio.wait_for(asyncio.gather(groups.submit(0), groups.submit(1)), 1)
    assert recorder.batches == [[0, 1]]


async def test_the_next_pull_waits_for_the_batch_before_it() -> None:
    hold = asyncio.Event()
    recorder = Recorder(hold)
    groups: PullGroups[int] = PullGroups(recorder.apply)
    first = await pull(groups, range(3))
    await asyncio.sleep(0.01)  # the first batch is being applied (held)
    second = await pull(groups, range(99, 100))
    await asyncio.sleep(0.01)
    assert recorder.batches == [[0, 1, 2]], "the second batch must wait for the first"
    assert not any(task.done() for task in first), "no handler returns before its batch is applied"
    hold.set()
    await asyncio.gather(*first, *second)
    assert recorder.batches == [[0, 1, 2], [99]]


async def test_a_failing_batch_releases_every_handler_of_it() -> None:
    async def boom(items: list[int]) -> None:
        raise RuntimeError("apply failed")

    groups: PullGroups[int] = PullGroups(boom)
    outcomes = await asyncio.gather(*await pull(groups, range(4)), return_exceptions=True)
    assert sum(isinstance(o, RuntimeError) for o in outcomes) == 1  # raised to the leader only
    assert outcomes.count(None) == 3


async def test_cancelling_the_leader_releases_the_others() -> None:
    hold = asyncio.Event()
    recorder = Recorder(hold)
    groups: PullGroups[int] = PullGroups(recorder.apply)
    tasks = await pull(groups, range(3))
    await asyncio.sleep(0.01)
    tasks[0].cancel()
    done = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 1)
    assert isinstance(done[0], asyncio.CancelledError)
    assert done[1:] == [None, None]


async def test_the_batch_runs_without_the_handlers_context() -> None:
    """FastStream's context holds the pulled message: what the batch schedules must not keep it."""
    var: contextvars.ContextVar[str] = contextvars.ContextVar("message", default="none")
    seen: list[str] = []

    async def apply(items: list[int]) -> None:
        seen.append(var.get())

    groups: PullGroups[int] = PullGroups(apply)
    var.set("the pulled message")
    await asyncio.gather(*await pull(groups, range(2)))
    assert seen == ["none"]
