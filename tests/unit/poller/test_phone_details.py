"""The choice of phones whose details are asked for after each GetAllPhoneOnline poll."""

from __future__ import annotations

import pytest

from vosync.poller.phone_details import DetailLimits, PhoneDetailTracker


def numbers(count: int, start: int = 0) -> list[str]:
    return [f"86138{n:08d}" for n in range(start, start + count)]


def test_new_numbers_first_in_batches_bounded_per_poll() -> None:
    tracker = PhoneDetailTracker(DetailLimits(batch_size=100, max_per_poll=250, refresh_per_poll=50))
    online = numbers(600)
    plan = tracker.plan(online)
    assert [len(b) for b in plan.batches] == [100, 100, 50]
    assert [n for b in plan.batches for n in b] == online[:250]
    assert (plan.new, plan.refreshed, plan.waiting) == (250, 0, 350)


def test_a_failed_batch_is_asked_again_and_answered_ones_are_not_new() -> None:
    tracker = PhoneDetailTracker(DetailLimits(batch_size=10, max_per_poll=20, refresh_per_poll=0))
    online = numbers(20)
    first = tracker.plan(online)
    tracker.answered(first.batches[0])  # the second batch failed
    again = tracker.plan(online)
    assert again.batches == [first.batches[1]]
    tracker.answered(again.batches[0])
    assert tracker.plan(online).batches == []


def test_the_round_robin_refreshes_every_known_number_in_turn() -> None:
    tracker = PhoneDetailTracker(DetailLimits(batch_size=50, max_per_poll=100, refresh_per_poll=30))
    online = numbers(100)
    tracker.answered(online)
    seen: list[str] = []
    for _ in range(4):
        plan = tracker.plan(online)
        assert plan.new == 0 and plan.refreshed == 30
        seen += [n for b in plan.batches for n in b]
    assert sorted(set(seen[:100])) == sorted(online)  # 4 × 30 ≥ 100: everyone once, then wraps


def test_dropped_numbers_are_forgotten_and_new_again_when_they_return() -> None:
    tracker = PhoneDetailTracker(DetailLimits(batch_size=10, max_per_poll=10, refresh_per_poll=0))
    online = numbers(5)
    tracker.answered(tracker.plan(online).batches[0])
    assert tracker.plan(online[1:]).batches == []
    assert tracker.detailed == 4
    assert tracker.plan(online).batches == [[online[0]]]


def test_new_numbers_take_the_room_of_the_refresh() -> None:
    tracker = PhoneDetailTracker(DetailLimits(batch_size=100, max_per_poll=100, refresh_per_poll=50))
    known = numbers(200)
    tracker.answered(known)
    plan = tracker.plan(known + numbers(80, start=1000))
    assert (plan.new, plan.refreshed) == (80, 20)


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        DetailLimits(batch_size=0, max_per_poll=1, refresh_per_poll=1)
