"""The history routes over what the real writer (its batch transaction) stored: a known sequence of
flips gives exactly those transitions, uptime fractions and flap counts; samples and rollups; the
event log and the SSE resume; the list's uptime_24h / flaps_24h; bad input is a 4xx."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import nats
import pytest

from tests.integration.api.conftest import READ, insert_instance
from tests.integration.api.test_events_and_health import EVENTS, event, sse_blocks
from tests.unit.writer.vos_replies import mapping_item, mapping_online_item, ok, reply
from vosync.shared import bus
from vosync.shared.settings import Settings
from vosync.writer.apply import BatchApplier
from vosync.writer.db import create_pool
from vosync.writer.history_maintenance import run_round

MAP, MAP_ON = "GetGatewayMapping", "GetGatewayMappingOnline"
CALLS = {"a": 5, "b": 9}


def _online(at: datetime, names: list[str]) -> Any:
    items = [mapping_online_item(n, i, currentCall=CALLS[n] + at.minute % 3) for i, n in enumerate(names)]
    return ok(MAP_ON, reply(MAP_ON, items), fetched_at=at)


@pytest.fixture
async def flips(api_settings: Settings, pg_conn: asyncpg.Connection) -> AsyncIterator[tuple[int, datetime]]:
    """Through the writer: `a` up 3 h ago, down 2 h ago, up 90 min ago, down 30 min ago; `b` up 3 h
    ago and since; `c` configured and never online; `d` configured after the last poll."""
    instance = await insert_instance(pg_conn)
    assert (await run_round(pg_conn, api_settings)).ran
    pool = await create_pool(api_settings)
    applier = BatchApplier(pool, api_settings.catalogue, history=True)
    n = datetime.now(UTC).replace(microsecond=0)
    config = [mapping_item(x, i) for i, x in enumerate("abc")]
    try:
        await applier.apply([ok(MAP, reply(MAP, config), fetched_at=n - timedelta(hours=3, minutes=1))])
        for ago, names in ((180, ["a", "b"]), (120, ["b"]), (90, ["a", "b"]), (30, ["b"])):
            await applier.apply([_online(n - timedelta(minutes=ago), names)])
        later = [*config, mapping_item("d", 3)]
        await applier.apply([ok(MAP, reply(MAP, later), fetched_at=n - timedelta(minutes=10))])
    finally:
        await pool.close()
    yield instance, n


def _url(instance: int, name: str, kind: str = "mapping") -> str:
    return f"/api/v1/instances/{instance}/gateway-history/{kind}/{name}"


async def test_known_flips_give_those_transitions_uptime_and_flaps(
    api: httpx.AsyncClient, flips: tuple[int, datetime], pg_conn: asyncpg.Connection
) -> None:
    instance, n = flips
    res = await api.get(_url(instance, "a"), headers=READ)
    assert res.status_code == 200, res.text
    body = res.json()
    assert (body["instance_id"], body["gateway_type"], body["name"], body["is_online"]) == (
        instance,
        "mapping",
        "a",
        False,
    )
    ids = [
        str(r["id"])
        for r in await pg_conn.fetch(
            "SELECT id FROM gateway_event_outbox WHERE gateway_name = 'a' ORDER BY id DESC"
        )
    ]
    assert body["transitions"] == [
        {
            "is_online": on,
            "previous": prev,
            "changed_at": (n - timedelta(minutes=ago)).isoformat().replace("+00:00", "Z"),
            "event_id": eid,
        }
        for (on, prev, ago), eid in zip(
            ((False, True, 30), (True, False, 90), (False, True, 120), (True, None, 180)), ids, strict=True
        )
    ]
    # 1 h: online from the window start to 30 min ago; 24 h and 7 d: observed from the first sighting
    # 3 h ago, online 3 h → 2 h and 90 → 30 min ago.
    assert body["uptime"] == {
        "1h": pytest.approx(0.5, abs=0.01),
        "24h": pytest.approx(2 / 3, abs=0.01),
        "7d": pytest.approx(2 / 3, abs=0.01),
    }
    assert body["flaps_24h"] == 4
    assert body["resolution"] == "minute"
    # Sampled while online, once per poll minute.
    assert [(s["at"], s["concurrent_calls"]) for s in body["samples"]] == [
        (
            (n - timedelta(minutes=ago)).replace(second=0).isoformat().replace("+00:00", "Z"),
            5 + (n - timedelta(minutes=ago)).minute % 3,
        )
        for ago in (180, 90)
    ]

    b = (await api.get(_url(instance, "b"), headers=READ)).json()
    assert b["is_online"] is True and b["flaps_24h"] == 1
    assert b["uptime"] == {"1h": 1.0, "24h": pytest.approx(1.0), "7d": pytest.approx(1.0)}
    assert len(b["samples"]) == 4
    c = (await api.get(_url(instance, "c"), headers=READ)).json()
    assert c["uptime"] == {"1h": 0.0, "24h": 0.0, "7d": 0.0} and c["transitions"] == [] and c["samples"] == []
    d = (await api.get(_url(instance, "d"), headers=READ)).json()
    assert d["uptime"] == {"1h": None, "24h": None, "7d": None}

    # A window: only the transitions inside it.
    since = (n - timedelta(minutes=100)).isoformat()
    until = str((n - timedelta(minutes=60)).timestamp())  # epoch seconds
    part = (await api.get(_url(instance, "a"), params={"since": since, "until": until}, headers=READ)).json()
    assert [t["is_online"] for t in part["transitions"]] == [True]


async def test_hourly_samples_beyond_two_days_match_before_and_after_the_rollup(
    api: httpx.AsyncClient, flips: tuple[int, datetime], pg_conn: asyncpg.Connection, api_settings: Settings
) -> None:
    instance, n = flips
    params = {"since": (n - timedelta(days=7)).isoformat()}
    before = (await api.get(_url(instance, "b"), params=params, headers=READ)).json()
    assert before["resolution"] == "hour"
    report = await run_round(pg_conn, api_settings)  # rolls up the completed hours
    assert report.ran and sum(report.rolled_up.values()) > 0
    after = (await api.get(_url(instance, "b"), params=params, headers=READ)).json()
    assert after["samples"] == before["samples"]
    raw = (await api.get(_url(instance, "b"), headers=READ)).json()["samples"]
    by_hour: dict[str, list[int]] = {}
    for s in raw:
        hour = datetime.fromisoformat(s["at"]).replace(minute=0).isoformat().replace("+00:00", "Z")
        by_hour.setdefault(hour, []).append(s["concurrent_calls"])
    assert [
        (h["at"], h["min"]["concurrent_calls"], h["max"]["concurrent_calls"]) for h in after["samples"]
    ] == [(hour, min(v), max(v)) for hour, v in sorted(by_hour.items())]
    for h in after["samples"]:
        assert h["concurrent_calls"] == pytest.approx(sum(by_hour[h["at"]]) / len(by_hour[h["at"]]))


async def test_gateway_list_has_uptime_and_flaps_and_sorts_by_them(
    api: httpx.AsyncClient, flips: tuple[int, datetime]
) -> None:
    instance, _ = flips
    url = f"/api/v1/instances/{instance}/gateways"

    async def order(sort: str) -> list[tuple[str, float | None, int]]:
        res = await api.get(url, params={"sort": sort}, headers=READ)
        assert res.status_code == 200, res.text
        return [(i["gateway_name"], i["uptime_24h"], i["flaps_24h"]) for i in res.json()["items"]]

    worst = await order("-flaps_24h")
    assert [(name, flaps) for name, _, flaps in worst] == [("a", 4), ("b", 1), ("c", 0), ("d", 0)]
    assert dict((name, up) for name, up, _ in worst) == {
        "a": pytest.approx(2 / 3, abs=0.01),
        "b": pytest.approx(1.0),
        "c": 0.0,
        "d": None,
    }
    assert [name for name, _, _ in await order("uptime_24h")] == ["c", "a", "b", "d"]  # nulls last
    assert [name for name, _, _ in await order("-uptime_24h")] == ["b", "a", "c", "d"]
    one = (await api.get(f"{url}/mapping/a", headers=READ)).json()
    assert one["flaps_24h"] == 4 and one["uptime_24h"] == pytest.approx(2 / 3, abs=0.01)


async def test_event_log_pages_newest_first_without_gaps_or_duplicates(
    api: httpx.AsyncClient, flips: tuple[int, datetime], pg_conn: asyncpg.Connection
) -> None:
    instance, n = flips
    outbox = await pg_conn.fetch(
        "SELECT id, gateway_name, is_online FROM gateway_event_outbox ORDER BY id DESC"
    )
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"instance_id": instance, "limit": 2}
    while True:
        page = (await api.get("/api/v1/events", params=params, headers=READ)).json()
        seen.extend(page["items"])
        if page["next"] is None:
            break
        params["before"] = page["next"]
    assert [(int(i["id"]), i["name"], i["is_online"]) for i in seen] == [tuple(r) for r in outbox]
    assert len(seen) == 5 and set(seen[0]) == {
        "id",
        "instance_id",
        "gateway_type",
        "name",
        "is_online",
        "previous",
        "changed_at",
    }
    recent = await api.get(
        "/api/v1/events", params={"since": str((n - timedelta(minutes=100)).timestamp())}, headers=READ
    )
    assert [(i["name"], i["is_online"]) for i in recent.json()["items"]] == [("a", False), ("a", True)]
    other = await api.get("/api/v1/events", params={"instance_id": instance + 1}, headers=READ)
    assert other.json() == {"items": [], "next": None}


async def test_sse_resume_with_last_event_id_replays_the_missed_then_live_without_duplicates(
    api: httpx.AsyncClient, flips: tuple[int, datetime], pg_conn: asyncpg.Connection, api_settings: Settings
) -> None:
    instance, _ = flips
    ids = [r["id"] for r in await pg_conn.fetch("SELECT id FROM gateway_event_outbox ORDER BY id")]
    nc = await nats.connect(api_settings.require_nats_url())
    try:
        headers = {**READ, "Last-Event-ID": str(ids[1])}
        async with api.stream("GET", EVENTS, params={"instance_id": instance}, headers=headers) as res:
            assert res.status_code == 200
            blocks = sse_blocks(res.aiter_lines())
            assert (await anext(blocks))[""] == "connected"
            replayed = [await asyncio.wait_for(anext(blocks), 5) for _ in ids[2:]]
            assert [b["id"] for b in replayed] == [str(i) for i in ids[2:]]
            assert all(b["event"] == "gateway.online" for b in replayed)
            assert json.loads(replayed[0]["data"])["gateway_name"] == "a"
            # Live: a late copy of a replayed event and one at or below Last-Event-ID are dropped.
            for ev in (
                event(instance, "a", True, ids[3]),
                event(instance, "a", True, ids[0]),
                event(instance, "z", True, ids[-1] + 1),
            ):
                await nc.publish(
                    bus.event_subject(ev.instance_id, ev.gateway_type), ev.model_dump_json().encode()
                )
            live = await asyncio.wait_for(anext(blocks), 5)
            assert live["id"] == str(ids[-1] + 1) and json.loads(live["data"])["gateway_name"] == "z"
    finally:
        await nc.close()


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/v1/instances/1/gateway-history/mapping/a", {"since": "yesterday"}, 400),
        (
            "/api/v1/instances/1/gateway-history/mapping/a",
            {"since": "2026-12-03T10:00:00Z", "until": "2026-12-03T09:00:00Z"},
            400,
        ),
        (
            "/api/v1/instances/1/gateway-history/mapping/a",
            {"since": "0", "until": "86400000"},
            400,
        ),  # > 400 days
        ("/api/v1/instances/1/gateway-history/mapping/a", {"until": "1e300"}, 400),
        ("/api/v1/instances/1/gateway-history/mapping/a", {"since": "nan"}, 400),
        ("/api/v1/instances/1/gateway-history/bogus/a", {}, 400),
        ("/api/v1/instances/1/gateway-history/mapping/no-such", {}, 404),
        ("/api/v1/instances/999/gateway-history/mapping/a", {}, 404),
        ("/api/v1/instances/1/gateway-history/mapping/a%00b", {}, 400),
        ("/api/v1/events", {"before": "abc"}, 400),
        ("/api/v1/events", {"limit": "0"}, 400),
        ("/api/v1/events", {"since": "soon"}, 400),
        ("/api/v1/events", {"instance_id": "-1"}, 400),
        ("/api/v1/events/gateway-online", {"last_event_id": "x1"}, 400),
    ],
)
async def test_bad_input_gets_a_clear_4xx(
    api: httpx.AsyncClient, flips: tuple[int, datetime], path: str, params: dict[str, str], status: int
) -> None:
    assert flips[0] == 1
    res = await api.get(path, params=params, headers=READ)
    assert res.status_code == status, res.text
    assert res.json()["detail"]


async def test_bad_last_event_id_header_is_a_400(api: httpx.AsyncClient, flips: tuple[int, datetime]) -> None:
    res = await api.get(EVENTS, headers={**READ, "Last-Event-ID": "12abc"})
    assert res.status_code == 400 and "Last-Event-ID" in res.json()["detail"]
