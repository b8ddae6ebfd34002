"""VOS replies that are huge, truncated, wrongly typed or oddly cased, through the real poller and
writer: each gives a failure result or a clean partial projection, and both services keep going.

A scripted VOS (an HTTP server of this test, answering whatever body the test sets per API) is
polled by a real poller process; a real writer process projects what it publishes. Each step sets
one reply, waits until the writer applied a result fetched after VOS served it, and checks the
cache row (failure or not) and the gateways table. Odd gateway names and out-of-range values
through the simulator itself are covered by test_vos_chaos.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web

from tests.faults.conftest import MakeSystem
from tests.faults.invariants import poll_until
from tests.faults.system import FaultSystem, register_instances
from vosync.shared.catalogue import API_PATH_PREFIX
from vosync.sim.replies import mapping_item, mapping_online_item

pytestmark = pytest.mark.slow

MAP, MAP_ON = "GetGatewayMapping", "GetGatewayMappingOnline"
QUIET = {
    "GetGatewayRouting": {"retCode": 0, "infoGatewayRoutings": []},
    "GetGatewayRoutingOnline": {"retCode": 0, "infoGatewayRoutingOnlines": []},
    "GetAllPhoneOnline": {"retCode": 0, "e164s": []},
    "GetFeeRateGroup": {"retCode": 0, "infoFeeRateGroups": []},
    "GetSuite": {"retCode": 0, "infoSuites": []},
}


class ScriptedVos:
    """Answers `POST /external/server/<Name>` with the bytes set for that API (a JSP's content type)."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {name: json.dumps(body).encode() for name, body in QUIET.items()}
        self.first_served: dict[str, datetime] = {}
        self._runner: web.AppRunner | None = None
        self.url = ""

    def set(self, api: str, body: bytes | dict[str, Any]) -> None:
        self.bodies[api] = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        self.first_served.pop(api, None)

    async def handle(self, request: web.Request) -> web.Response:
        api = request.match_info["api"]
        await request.read()
        body = self.bodies.get(api)
        if body is None:
            return web.Response(status=404, text="no such API")
        self.first_served.setdefault(api, datetime.now(UTC))
        return web.Response(body=body, content_type="text/html", charset="UTF-8")

    async def start(self) -> None:
        app = web.Application(client_max_size=1024**3)
        app.router.add_post(API_PATH_PREFIX + "{api}", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class Steps:
    def __init__(self, system: FaultSystem, vos: ScriptedVos, instance_id: int) -> None:
        self.system, self.vos, self.instance_id = system, vos, instance_id

    async def reply(self, api: str, body: bytes | dict[str, Any], *, success: bool = False) -> dict[str, Any]:
        """Serve `body` for `api`; the cache row once a result fetched after serving it is applied
        (with `success`, once a successful one is: a busy machine may time out a huge reply once)."""
        self.vos.set(api, body)
        served = await poll_until(lambda: self._served(api), 20, f"VOS serving the new {api} reply")
        conn = self.system.conn

        async def applied() -> dict[str, Any] | None:
            row = await conn.fetchrow(
                "SELECT error_kind, error_message, is_valid, last_attempt_at FROM vos_data_cache"
                " WHERE vos_instance_id = $1 AND api_name = $2 AND last_attempt_at >= $3"
                " AND (NOT $4 OR synced_at >= $3)",
                self.instance_id,
                api,
                served,
                success,
            )
            return dict(row) if row else None

        row = await poll_until(applied, 60 if success else 30, f"the writer applying the new {api} reply")
        for name in ("poller", "writer"):
            assert self.system.procs[name].alive(), self.system.procs[name].log_tail()
        return row

    async def _served(self, api: str) -> datetime | None:
        return self.vos.first_served.get(api)

    async def gateways(self) -> dict[str, dict[str, Any]]:
        rows = await self.system.conn.fetch(
            "SELECT * FROM gateways WHERE vos_instance_id = $1 AND gateway_type = 'mapping'", self.instance_id
        )
        return {r["gateway_name"]: dict(r) for r in rows}


def config(items: list[Any], key: str = "infoGatewayMappings") -> dict[str, Any]:
    return {"retCode": 0, key: items}


def online(names: list[str]) -> dict[str, Any]:
    return {
        "retCode": 0,
        "infoGatewayMappingOnlines": [mapping_online_item(n, i) for i, n in enumerate(names)],
    }


BASE = [f"g{i}" for i in range(1, 6)]


async def test_huge_truncated_wrongly_typed_and_oddly_cased_replies(
    make_system: MakeSystem, nats_url: str, database_url: str
) -> None:
    vos = ScriptedVos()
    vos.set(MAP, config([mapping_item(n, i) for i, n in enumerate(BASE)]))
    vos.set(MAP_ON, online(["g1", "g2"]))
    await vos.start()
    try:
        system = await make_system(
            nats_url=nats_url, database_url=database_url, sim_instances=0, vos_timeout_s=8
        )
        system.instances = {}  # the scripted VOS has no /_sim/gateways truth; each step checks the table
        instance_id = next(iter(await register_instances(system.conn, system.js, system.settings, [vos.url])))
        system.add("writer", "vosync-writer")
        system.add("poller", "vosync-poller")
        await system.start("writer", "poller")
        steps = Steps(system, vos, instance_id)
        await run_steps(steps)
        report = await system.final_checks(gateways=False)
        print(report.summary())
        assert report.results.error_kinds["bad_json"] >= 3
    finally:
        await vos.stop()


async def run_steps(steps: Steps) -> None:
    row = await steps.reply(MAP, config([mapping_item(n, i) for i, n in enumerate(BASE)]))
    assert row["error_kind"] is None
    await steps.reply(MAP_ON, online(["g1", "g2"]))
    table = await steps.gateways()
    assert set(table) == set(BASE) and {n for n, r in table.items() if r["is_online"]} == {"g1", "g2"}

    # Truncated, wrong envelope casing, retCode as a string, a JSON list, not UTF-8: failures that
    # keep the last good data and change no gateway.
    for body in (
        b'{"retCode":0,"infoGatewayMappings":[{"name":"g1","remoteIps":"10.0',
        json.dumps({"RetCode": 0, "infoGatewayMappings": []}).encode(),
        json.dumps({"retCode": "0", "infoGatewayMappings": []}).encode(),
        b"[]",
        b'{"retCode":0,"infoGatewayMappings":[{"name":"\xff\xfe"}]}',
    ):
        row = await steps.reply(MAP, body)
        assert row["error_kind"] == "bad_json", (body[:40], row)
        assert row["is_valid"], "a failure must keep the last good reply"
        assert set(await steps.gateways()) == set(BASE), body[:40]

    # A string where the list belongs: VOS answered retCode 0, so the reply is stored, but nothing
    # can be projected from it: no gateway is removed.
    row = await steps.reply(MAP, {"retCode": 0, "infoGatewayMappings": "g1,g2"})
    assert row["error_kind"] is None
    assert set(await steps.gateways()) == set(BASE)
    # The same for the online list: nobody goes offline because the list is unreadable.
    await steps.reply(MAP_ON, {"retCode": 0, "infoGatewayMappingOnlines": {"name": "g1"}})
    assert {n for n, r in (await steps.gateways()).items() if r["is_online"]} == {"g1", "g2"}

    # Wrongly typed items and values: the readable part is projected, the rest skipped or NULL.
    items = [
        mapping_item("g1", 1),
        "g2",
        42,
        None,
        {"name": 123, "remoteIps": "10.2.0.1"},
        {"name": ["x"]},
        {"noname": True},
        {"name": "g6", "capacity": "lots", "remoteIps": {"a": 1}, "registerType": "1", "lockType": 2**40},
        {"name": "n" * 300},
    ]
    await steps.reply(MAP, config(items))
    table = await steps.gateways()
    # g2 is online, so it stays although absent from config; g3..g5 (offline) are gone.
    assert set(table) == {"g1", "g2", "123", "g6"}, sorted(table)
    assert not table["g2"]["in_config"] and table["g2"]["is_online"]
    assert table["123"]["ip_address"] == "10.2.0.1"
    g6 = table["g6"]
    assert (g6["capacity"], g6["remote_ips"], g6["register_type"], g6["lock_type"]) == (None, None, 1, None)

    await steps.reply(
        MAP_ON,
        {
            "retCode": 0,
            "infoGatewayMappingOnlines": [
                {"name": "g1", "currentCall": "many", "asr": "NaN", "acd": [], "capacity": -1},
                {"name": None},
                "g6",
            ],
        },
    )
    table = await steps.gateways()
    assert {n for n, r in table.items() if r["is_online"]} == {"g1"}
    assert table["g1"]["concurrent_calls"] is None and table["g1"]["acd"] is None
    assert "g2" not in table  # went offline while absent from config: removed

    # Unexpected key casing in the list key and the items.
    cased = {
        "retCode": 0,
        "INFOGATEWAYMAPPINGS": [
            {"NAME": "c1", "RemoteIps": "10.1.1.1,10.1.1.2", "CAPACITY": 30, "dtmfSendMethodSIP": 1},
            mapping_item("g1", 1),
        ],
    }
    await steps.reply(MAP, cased)
    table = await steps.gateways()
    assert set(table) == {"c1", "g1"}
    assert (table["c1"]["ip_address"], table["c1"]["remote_ips"], table["c1"]["capacity"]) == (
        "10.1.1.1",
        ["10.1.1.1", "10.1.1.2"],
        30,
    )

    # Huge: 3,000 gateways with a kilobyte of memo each (about 8 MB of JSON, compressed on the bus).
    huge = [mapping_item(f"h{i:05d}", i, memo="m" * 1000) for i in range(3000)]
    row = await steps.reply(MAP, config(huge), success=True)
    assert row["error_kind"] is None
    table = await steps.gateways()
    assert len(table) == 3001 and "g1" in table  # g1 stays: it is online
