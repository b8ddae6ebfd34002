"""The launcher's restart policy: capped doubling backoff, a crash loop stops the stack."""

from __future__ import annotations

from vosync.deploy.supervise import RestartPolicy, describe_exit


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = RestartPolicy(crash_limit=100, crash_window_s=1000)
    delays = [policy.on_exit("writer-1", now=float(i)).delay_s for i in range(7)]
    assert delays == [1, 2, 4, 8, 16, 30, 30]


def test_restart_count_is_per_child() -> None:
    policy = RestartPolicy()
    assert policy.on_exit("writer-1", 0).restarts == 1
    assert policy.on_exit("writer-1", 100).restarts == 2
    assert policy.on_exit("api", 100).restarts == 1


def test_five_exits_within_a_minute_give_up_with_a_sentence() -> None:
    policy = RestartPolicy()
    decisions = [policy.on_exit("nats", now=t, how="was killed by SIGKILL") for t in (0, 5, 10, 20, 40)]
    assert all(d.restart for d in decisions[:4])
    last = decisions[-1]
    assert not last.restart
    assert "nats" in last.reason and "5 times within 60 s" in last.reason


def test_exits_spread_out_never_give_up_and_backoff_resets() -> None:
    policy = RestartPolicy()
    decisions = [policy.on_exit("api", now=t * 61.0) for t in range(10)]
    assert all(d.restart for d in decisions)
    assert {d.delay_s for d in decisions} == {1.0}


def test_describe_exit() -> None:
    assert describe_exit(3) == "exited with code 3"
    assert describe_exit(-9) == "was killed by SIGKILL"
    assert describe_exit(None) == "failed to start"
