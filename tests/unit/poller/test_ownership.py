"""Lease planning: balance ceil(M/N), release surplus and disabled, respect pinned pollers."""

from collections.abc import Mapping, Sequence

from vosync.poller.ownership import plan


def _converge(
    poller_ids: list[str],
    enabled: set[int],
    pinned: Mapping[str, Sequence[int] | None] | None = None,
    owners: dict[int, str] | None = None,
) -> dict[int, str]:
    """Run every poller's sweep in turn (leases taken atomically) until nothing changes."""
    pins = dict(pinned or {})
    owners = dict(owners or {})
    pollers = {p: pins.get(p) for p in poller_ids}
    for _ in range(20):
        changed = False
        for me in poller_ids:
            owned = {i for i, o in owners.items() if o == me}
            decision = plan(
                me, enabled=enabled, lease_owners=owners, owned=owned, pollers=pollers, pinned=pins.get(me)
            )
            for i in decision.release:
                del owners[i]
                changed = True
            for i in decision.acquire:
                if i not in owners:
                    owners[i] = me
                    changed = True
        if not changed:
            return owners
    raise AssertionError("did not converge")


def _counts(owners: dict[int, str], pollers: list[str]) -> list[int]:
    return sorted(sum(1 for o in owners.values() if o == p) for p in pollers)


def test_three_pollers_nine_instances_three_each() -> None:
    pollers = ["a", "b", "c"]
    owners = _converge(pollers, set(range(1, 10)))
    assert set(owners) == set(range(1, 10))
    assert _counts(owners, pollers) == [3, 3, 3]


def test_a_greedy_first_poller_gives_up_its_surplus() -> None:
    everything = {i: "a" for i in range(1, 10)}  # "a" started alone and took all
    owners = _converge(["a", "b", "c"], set(range(1, 10)), owners=everything)
    assert set(owners) == set(range(1, 10))
    assert all(2 <= c <= 4 for c in _counts(owners, ["a", "b", "c"]))


def test_survivors_take_over_a_dead_pollers_instances() -> None:
    owners = _converge(["a", "b", "c"], set(range(1, 10)))
    alive = {i: o for i, o in owners.items() if o != "c"}  # c's leases expired
    owners = _converge(["a", "b"], set(range(1, 10)), owners=alive)
    assert set(owners) == set(range(1, 10)) and _counts(owners, ["a", "b"]) in ([4, 5], [5, 4])


def test_uneven_split_stays_within_ceil() -> None:
    owners = _converge(["a", "b", "c"], set(range(10)))
    assert set(owners) == set(range(10)) and max(_counts(owners, ["a", "b", "c"])) <= 4


def test_disabled_instances_are_released() -> None:
    decision = plan(
        "a", enabled={1, 2}, lease_owners={1: "a", 3: "a"}, owned={1, 3}, pollers={"a": None}, pinned=None
    )
    assert decision.release == [3] and decision.acquire == [2]


def test_pinned_poller_takes_exactly_its_instances() -> None:
    decision = plan(
        "p",
        enabled={1, 2, 5},
        lease_owners={1: "x"},
        owned=set(),
        pollers={"p": [1, 5], "x": None},
        pinned=[1, 5],
    )
    assert decision.acquire == [5] and decision.release == []  # 1 is still held by x
    assert plan("p", enabled={1}, lease_owners={}, owned={1, 2}, pollers={}, pinned=[1]).release == [2]


def test_balancers_leave_pinned_instances_alone() -> None:
    pins: dict[str, Sequence[int] | None] = {"p": [1, 5]}
    owners = _converge(["a", "b", "p"], set(range(1, 10)), pinned=pins, owners={1: "a"})
    assert owners[1] == "p" and owners[5] == "p"
    assert sorted(sum(1 for o in owners.values() if o == x) for x in ("a", "b")) == [3, 4]


def test_nothing_enabled_nothing_wanted() -> None:
    assert plan("a", enabled=set(), lease_owners={}, owned={4}, pollers={"a": None}, pinned=None).release == [
        4
    ]
