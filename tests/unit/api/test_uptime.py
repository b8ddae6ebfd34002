"""Uptime and flaps of one gateway from its transitions (the rule the list's SQL follows too)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vosync.api.domain.history.uptime import Change, Current, flaps, uptime

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def change(on: bool, previous: bool | None, hours_ago: float) -> Change:
    return Change(on, previous, NOW - hours_ago * H, None)


def test_first_sighting_inside_the_window_starts_the_observation() -> None:
    changes = [
        change(True, None, 3),
        change(False, True, 2),
        change(True, False, 1.5),
        change(False, True, 0.5),
    ]
    offline = Current(is_online=False, status_known=True)
    assert uptime(changes, offline, NOW - H, NOW) == pytest.approx(0.5)
    assert uptime(changes, offline, NOW - 24 * H, NOW) == pytest.approx(2 / 3)
    assert flaps(changes, NOW - 24 * H, NOW) == 4 and flaps(changes, NOW - H, NOW) == 1


def test_the_state_before_the_first_change_is_its_previous() -> None:
    # Online before the window (previous True), down at -6 h, up at -3 h: 18 h + 3 h of 24 online.
    changes = [change(False, True, 6), change(True, False, 3)]
    assert uptime(changes, Current(True, True), NOW - 24 * H, NOW) == pytest.approx(21 / 24)


def test_no_change_in_the_window_is_the_current_state_and_unknown_is_null() -> None:
    assert uptime([], Current(True, True), NOW - H, NOW) == 1.0
    assert uptime([], Current(False, True), NOW - H, NOW) == 0.0
    assert uptime([], Current(False, False), NOW - H, NOW) is None
    assert uptime([change(True, None, 0)], Current(True, True), NOW - H, NOW) is None  # seen just now
