"""The VOS state of an instance from the lease holder's heartbeat and the cache rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from vosync.api.domain.status.service import read_leases
from vosync.api.domain.status.state import CacheFailures, VosState, decide
from vosync.shared.heartbeat import PollerHeartbeat, VosView, vos_views_json

LAST_SUCCESS = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
HEALTHY = CacheFailures(rows=7, failing_apis=(), no_success_since=None)
FAILING_ROWS = CacheFailures(rows=7, failing_apis=("GetSuite",), no_success_since=LAST_SUCCESS)
STARTED = datetime(2026, 12, 3, 12, 0, 5, tzinfo=UTC).timestamp()


def test_disabled_wins() -> None:
    assert decide(False, VosView(backing_off=True), FAILING_ROWS).state is VosState.DISABLED


def test_backing_off_from_the_heartbeat_with_the_failure_start() -> None:
    d = decide(True, VosView(backing_off=True, failing_since=STARTED, transport_failures=4), HEALTHY)
    assert (d.state, d.since, d.source) == (
        VosState.BACKING_OFF,
        datetime.fromtimestamp(STARTED, UTC),
        "poller",
    )


def test_backing_off_without_a_start_falls_back_to_the_last_success() -> None:
    d = decide(True, VosView(backing_off=True), FAILING_ROWS)
    assert (d.state, d.since) == (VosState.BACKING_OFF, LAST_SUCCESS)


def test_failing_from_the_heartbeat_before_the_writer_caught_up() -> None:
    d = decide(True, VosView(failing_since=STARTED), HEALTHY)
    assert (d.state, d.source) == (VosState.FAILING, "poller")


def test_failing_from_the_database_when_no_poller_speaks_for_it() -> None:
    for view in (None, VosView()):
        d = decide(True, view, FAILING_ROWS)
        assert (d.state, d.since, d.source) == (VosState.FAILING, LAST_SUCCESS, "database")


def test_ok_and_no_data() -> None:
    assert decide(True, VosView(), HEALTHY).state is VosState.OK
    assert decide(True, None, HEALTHY).state is VosState.OK
    assert decide(True, None, CacheFailures(0, (), None)).state is VosState.NO_DATA


def test_the_lease_holders_heartbeat_speaks_for_an_instance() -> None:
    holder = {"poller_id": "p-1", "pinned": None, "vos": vos_views_json({3: VosView(backing_off=True)})}
    other = {"poller_id": "p-2", "pinned": None, "vos": vos_views_json({3: VosView()})}
    leases = read_leases(
        {
            "instance.3": b"p-1",
            "instance.4": b"p-2",
            "instance.bad": b"p-2",
            "poller.p-1": json.dumps(holder).encode(),
            "poller.p-2": json.dumps(other).encode(),
            "poller.old": b'{"poller_id": "old", "pinned": null}',  # a poller from before the vos field
            "poller.garbled": b"alive",
        }
    )
    assert leases.owners == {3: "p-1", 4: "p-2"}
    assert sorted(leases.heartbeats) == ["garbled", "old", "p-1", "p-2"]
    view = leases.view(3)
    assert view is not None and view.backing_off
    assert leases.view(4) is None  # p-2 holds it but has not reported on it
    assert leases.view(5) is None  # nobody holds it


def test_heartbeat_round_trip() -> None:
    views = {2: VosView(failing_since=STARTED, transport_failures=1), 1: VosView()}
    raw = json.dumps({"poller_id": "p", "pinned": [1, 2], "vos": vos_views_json(views)}).encode()
    beat = PollerHeartbeat.parse("p", raw)
    assert beat.vos == views and beat.pinned == [1, 2]
