"""`vosync status` as a table: what each VOS state reads like, and what NATS could not tell."""

from __future__ import annotations

from typing import Any

from vosync.deploy.cli.commands import render_status

CHECKED = "2026-12-03T15:30:00Z"


def instance(name: str, state: str, since: str | None = None, source: str | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "enabled": state != "disabled",
        "vos_state": state,
        "failing_since": since,
        "state_source": source,
        "last_error": "GetSuite: connection refused" if since else None,
        "config_age_s": 75.0,
        "online_age_s": None,
        "gateways_online": 3,
        "gateways_total": 5,
        "poller_id": "p-1" if source == "poller" else None,
    }


def reply(instances: list[dict[str, Any]], *, nats: bool = True) -> dict[str, Any]:
    return {
        "checked_at": CHECKED,
        "instances": instances,
        "services": {
            "api": "ok" if nats else "degraded",
            "api_checks": {"database": True, "nats": nats},
            "pollers": {"up": 2, "ids": ["p-1", "p-2"]} if nats else None,
            "writers": {
                "up": True if nats else None,
                "pulls_waiting": 1 if nats else None,
                "consumer_lag": 12 if nats else None,
                "ack_pending": 3 if nats else None,
                "outbox_backlog": 4,
            },
            "problems": []
            if nats
            else ["could not read the writers' consumer on VOS_RESULTS: TimeoutError()"],
        },
    }


def row(text: str, first: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(first))


def test_each_state_reads_plainly() -> None:
    text = render_status(
        reply(
            [
                instance("a", "ok"),
                instance("b", "failing", "2026-12-03T15:29:00Z", "poller"),
                instance("c", "backing_off", "2026-12-03T15:20:00Z", "poller"),
                instance("d", "failing", "2026-12-03T13:30:00Z", "database"),
                instance("e", "no_data"),
            ]
        ),
        "http://127.0.0.1:8000",
    )
    assert " ok " in row(text, "a ")
    assert "failing since 15:29:00 UTC (60 s ago)" in row(text, "b ")
    assert "backing off (failing since 15:20:00 UTC (10 min ago))" in row(text, "c ")
    assert "no success since 13:30:00 UTC (2.0 h ago)" in row(text, "d ")  # only the database knows
    assert "no data" in row(text, "e ")
    assert "75 s" in row(text, "a ") and "never" in row(text, "a ") and "3/5" in row(text, "a ")
    assert "  b: GetSuite: connection refused" in text
    writers = row(text, "writers")
    assert writers.split()[1:6] == ["yes", "12", "3", "4", "1"]
    assert "p-1, p-2" in row(text, "pollers")


def test_what_nats_could_not_tell_is_said() -> None:
    text = render_status(reply([], nats=False), "http://api")
    assert "no instances" in text
    assert "nats DOWN" in row(text, "api ")
    assert row(text, "writers").split()[1:6] == ["-", "-", "-", "4", "-"]
    assert "could not read the writers' consumer" in text
