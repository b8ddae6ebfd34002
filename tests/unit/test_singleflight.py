"""Singleflight (shared by the api's proxy and the poller): concurrent callers of one key share one
run; one caller's cancel cancels nobody else; an abandoned run is cancelled only when asked."""

import asyncio

import pytest

from vosync.shared.singleflight import SingleFlight


async def test_concurrent_callers_share_one_run() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    runs = 0
    gate = asyncio.Event()

    async def work() -> int:
        nonlocal runs
        runs += 1
        await gate.wait()
        return 42

    callers = [asyncio.create_task(flights.do("k", work)) for _ in range(100)]
    await asyncio.sleep(0)
    assert flights.in_flight("k")
    gate.set()
    results = await asyncio.gather(*callers)
    assert runs == 1
    assert [r for r, _ in results] == [42] * 100
    assert sum(joined for _, joined in results) == 99
    assert len(flights) == 0
    assert await flights.do("k", work) == (42, False)  # a finished run is not reused
    assert runs == 2


@pytest.mark.parametrize("cancel_when_abandoned", [False, True])
async def test_one_caller_cancelled_others_still_get_the_result(cancel_when_abandoned: bool) -> None:
    flights: SingleFlight[str, str] = SingleFlight(cancel_when_abandoned=cancel_when_abandoned)
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


@pytest.mark.parametrize("cancel_when_abandoned", [False, True])
async def test_an_abandoned_run_is_cancelled_only_when_asked(cancel_when_abandoned: bool) -> None:
    flights: SingleFlight[str, str] = SingleFlight(cancel_when_abandoned=cancel_when_abandoned)
    started, cancelled, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def work() -> str:
        started.set()
        try:
            await asyncio.sleep(0.2)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        finished.set()
        return "done"

    caller = asyncio.create_task(flights.do("k", work))
    await started.wait()
    caller.cancel()
    if cancel_when_abandoned:
        await asyncio.wait_for(cancelled.wait(), 1)
        await asyncio.sleep(0)
        assert not flights.in_flight("k")
    else:
        await asyncio.wait_for(finished.wait(), 1)
        assert not cancelled.is_set()


async def test_errors_reach_every_caller() -> None:
    flights: SingleFlight[str, int] = SingleFlight()

    async def work() -> int:
        await asyncio.sleep(0.01)
        raise ValueError("boom")

    results = await asyncio.gather(*(flights.do("k", work) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, ValueError) for r in results)
    assert len(flights) == 0


async def test_cancel_all_ends_every_run() -> None:
    flights: SingleFlight[str, None] = SingleFlight()

    async def forever() -> None:
        await asyncio.sleep(60)

    callers = [asyncio.create_task(flights.do(k, forever)) for k in "abc"]
    await asyncio.sleep(0)
    await flights.cancel_all(timeout_s=1)
    results = await asyncio.gather(*callers, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
