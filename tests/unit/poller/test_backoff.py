"""Per-instance backoff: threshold, capped exponential full-jitter delays, one probe, resume."""

import random

from vosync.poller.backoff import Backoff, BackoffPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _backoff(clock: Clock, changes: list[bool] | None = None) -> Backoff:
    policy = BackoffPolicy(after_failures=3, base_s=2.0, max_s=10.0)
    return Backoff(
        7,
        policy,
        clock=clock,
        rng=random.Random(1),
        on_change=(changes.append if changes is not None else None),
    )


def test_cap_grows_exponentially_up_to_the_max() -> None:
    policy = BackoffPolicy(after_failures=3, base_s=2.0, max_s=10.0)
    assert [policy.cap(n) for n in (1, 3, 4, 5, 6, 100, 10_000)] == [2.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]


def test_calls_flow_until_the_threshold() -> None:
    clock, changes = Clock(), list[bool]()
    b = _backoff(clock, changes)
    for _ in range(2):
        assert b.try_acquire()
        b.record(transport_failure=True)
    assert not b.backing_off and b.try_acquire() and changes == []
    b.record(transport_failure=True)
    assert b.backing_off and changes == [True]


def test_one_probe_after_the_delay_and_resume_on_success() -> None:
    clock, changes = Clock(), list[bool]()
    b = _backoff(clock, changes)
    for _ in range(3):
        b.record(transport_failure=True)
    wait = b.retry_in()
    assert 0 <= wait <= 2.0
    clock.now += wait + 0.001
    assert b.try_acquire()  # the probe
    assert not b.try_acquire()  # only one at a time
    b.record(transport_failure=False)
    assert not b.backing_off and b.failures == 0 and b.try_acquire() and changes == [True, False]


def test_failed_probe_opens_again_with_a_longer_cap() -> None:
    clock = Clock()
    b = _backoff(clock)
    for _ in range(3):
        b.record(transport_failure=True)
    delays = []
    for _ in range(50):
        clock.now += b.retry_in() + 0.001
        assert b.try_acquire()
        b.record(transport_failure=True)
        delays.append(b.retry_in())
    assert all(0 <= d <= 10.0 for d in delays)
    assert max(delays) > 4.0  # the cap grew past the base
    assert b.failures == 53


def test_abandoned_probe_lets_the_next_caller_probe() -> None:
    clock = Clock()
    b = _backoff(clock)
    for _ in range(3):
        b.record(transport_failure=True)
    clock.now += 100
    assert b.try_acquire()
    b.abandon()
    assert b.try_acquire()


def test_a_ret_code_error_is_not_a_transport_failure() -> None:
    clock = Clock()
    b = _backoff(clock)
    b.record(transport_failure=True)
    b.record(transport_failure=True)
    b.record(transport_failure=False)  # VOS answered (even with an error): the path works
    b.record(transport_failure=True)
    assert not b.backing_off and b.failures == 1
