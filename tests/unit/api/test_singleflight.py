"""Coalescing: one call per key for concurrent callers; one caller's cancel cancels nobody else."""

import asyncio

import pytest

from vosync.api.lib.singleflight import SingleFlight


async def test_concurrent_callers_share_one_call() -> None:
    calls = 0
    coalesced = 0
    release = asyncio.Event()

    def count() -> None:
        nonlocal coalesced
        coalesced += 1

    flights: SingleFlight[str, int] = SingleFlight(count)

    async def work() -> int:
        nonlocal calls
        calls += 1
        await release.wait()
        return 42

    callers = [asyncio.create_task(flights.do("k", work)) for _ in range(100)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*callers) == [42] * 100
    assert calls == 1 and coalesced == 99 and len(flights) == 0
    assert await flights.do("k", work) == 42 and calls == 2  # finished flights are not reused


async def test_first_caller_cancelling_does_not_cancel_the_others() -> None:
    release = asyncio.Event()
    flights: SingleFlight[str, str] = SingleFlight()

    async def work() -> str:
        await release.wait()
        return "done"

    first = asyncio.create_task(flights.do("k", work))
    second = asyncio.create_task(flights.do("k", work))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    release.set()
    assert await second == "done"
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_errors_reach_every_caller() -> None:
    flights: SingleFlight[str, None] = SingleFlight()

    async def boom() -> None:
        await asyncio.sleep(0.01)
        raise RuntimeError("vos down")

    results = await asyncio.gather(*(flights.do("k", boom) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
