"""PullGroups gives the writer one batch per pull, applied in order, whatever the handlers do."""

from __future__ import annotations

import asyncio

import pytest

from vosync.writer.pull_groups import PullGroups


class Recorder:
    def __init__(self, hold: asyncio.Event | None = None) -> None:
        self.batches: list[list[int]] = []
        self.hold = hold

    async def apply(self, items: list[int]) -> None:
        self.batches.append(list(items))
        if self.hold is not None:
            await self.hold.wait()


async def test_the_handlers_of_one_pull_form_one_batch() -> None:
    recorder = Recorder()
    groups: PullGroups[int] = PullGroups(recorder.apply)
    # As FastStream's pull loop does: every handler task is started before the first one runs.
    await asyncio.gather(*(asyncio.create_task(groups.submit(i)) for i in range(50)))
    assert recorder.batches == [list(range(50))]


async def test_a_late_handler_opens_the_next_batch_applied_after_the_first() -> None:
    hold = asyncio.Event()
    recorder = Recorder(hold)
    groups: PullGroups[int] = PullGroups(recorder.apply)
    first = [asyncio.create_task(groups.submit(i)) for i in range(3)]
    await asyncio.sleep(0.01)  # the first batch is being applied (held)
    late = asyncio.create_task(groups.submit(99))
    await asyncio.sleep(0.01)
    assert recorder.batches == [[0, 1, 2]], "the second batch must wait for the first"
    assert not any(task.done() for task in first), "no handler returns before its batch is applied"
    hold.set()
    await asyncio.gather(*first, late)
    assert recorder.batches == [[0, 1, 2], [99]]


async def test_a_failing_batch_releases_every_handler_of_it() -> None:
    async def boom(items: list[int]) -> None:
        raise RuntimeError("apply failed")

    groups: PullGroups[int] = PullGroups(boom)
    outcomes = await asyncio.gather(*(groups.submit(i) for i in range(4)), return_exceptions=True)
    assert sum(isinstance(o, RuntimeError) for o in outcomes) == 1  # raised to the leader only
    assert outcomes.count(None) == 3
    # and the next pull is a fresh batch
    recorder = Recorder()
    groups = PullGroups(recorder.apply)
    await asyncio.gather(*(groups.submit(i) for i in range(2)))
    assert recorder.batches == [[0, 1]]


async def test_cancelling_the_leader_releases_the_others() -> None:
    hold = asyncio.Event()
    recorder = Recorder(hold)
    groups: PullGroups[int] = PullGroups(recorder.apply)
    tasks = [asyncio.create_task(groups.submit(i)) for i in range(3)]
    await asyncio.sleep(0.01)
    tasks[0].cancel()
    done = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 1)
    assert isinstance(done[0], asyncio.CancelledError)
    assert done[1:] == [None, None]


@pytest.mark.parametrize("size", [1, 256])
async def test_sizes(size: int) -> None:
    recorder = Recorder()
    groups: PullGroups[int] = PullGroups(recorder.apply)
    await asyncio.gather(*(asyncio.create_task(groups.submit(i)) for i in range(size)))
    assert recorder.batches == [list(range(size))]
