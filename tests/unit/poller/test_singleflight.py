"""Concurrent callers of one key share one run; cancelling some does not cancel the rest."""

import asyncio

import pytest

from vosync.poller.singleflight import SingleFlight


async def test_concurrent_callers_share_one_run() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    runs = 0
    gate = asyncio.Event()

    async def work() -> int:
        nonlocal runs
        runs += 1
        await gate.wait()
        return 42

    callers = [asyncio.create_task(flights.do("k", work)) for _ in range(50)]
    await asyncio.sleep(0)
    assert flights.in_flight("k")
    gate.set()
    results = await asyncio.gather(*callers)
    assert runs == 1
    assert [r for r, _ in results] == [42] * 50
    assert sum(joined for _, joined in results) == 49
    assert len(flights) == 0
    assert await flights.do("k", work) == (42, False)  # a later call runs again
    assert runs == 2


async def test_one_caller_cancelled_others_still_get_the_result() -> None:
    flights: SingleFlight[str, str] = SingleFlight()
    gate = asyncio.Event()

    async def work() -> str:
        await gate.wait()
        return "done"

    first = asyncio.create_task(flights.do("k", work))
    second = asyncio.create_task(flights.do("k", work))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    gate.set()
    assert await second == ("done", True)
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_work_is_cancelled_when_every_caller_gave_up() -> None:
    flights: SingleFlight[str, str] = SingleFlight()
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def work() -> str:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    caller = asyncio.create_task(flights.do("k", work))
    await started.wait()
    caller.cancel()
    await asyncio.wait_for(cancelled.wait(), 1)
    await asyncio.sleep(0)
    assert not flights.in_flight("k")


async def test_errors_reach_every_caller() -> None:
    flights: SingleFlight[str, int] = SingleFlight()

    async def work() -> int:
        await asyncio.sleep(0.01)
        raise ValueError("boom")

    results = await asyncio.gather(*(flights.do("k", work) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, ValueError) for r in results)
