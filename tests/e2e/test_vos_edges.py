"""Truth at the edges (issue 17, items 1–5), end to end: VOS simulator → real poller → NATS → real
writer → PostgreSQL → api, each test a defect that failed before its fix."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg
import nats
import nats.js.errors
import pytest

from tests.fixtures.stack import RunningStack, StackRunner
from tests.support.waiting import wait_until
from vosync.deploy.embedded import EmbeddedNats
from vosync.poller.service import PollerService
from vosync.shared.settings import Settings, SettingsError
from vosync.sim.instance import SimInstance

ADMIN = {"X-API-Key": "edges-admin"}
INTERVALS = {
    "GetGatewayMappingOnline": 1.0,
    "GetGatewayRoutingOnline": 1.0,
    "GetGatewayMapping": 1.5,
    "GetGatewayRouting": 1.5,
    "GetAllPhoneOnline": 30.0,
    "GetFeeRateGroup": 30.0,
    "GetSuite": 30.0,
}

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("vosync_debug_logs")]


class Edges(RunningStack):
    async def gateways(self, **params: Any) -> list[dict[str, Any]]:
        reply = await self.client.get(
            f"/api/v1/instances/{self.instance_id}/gateways", params={"limit": 1000, **params}, headers=ADMIN
        )
        assert reply.status_code == 200, reply.text
        items: list[dict[str, Any]] = reply.json()["items"]
        return items

    async def table(self) -> set[tuple[str, str, bool]]:
        rows = await self.pg.fetch("SELECT gateway_type, gateway_name, is_online FROM gateways")
        return {(r["gateway_type"], r["gateway_name"], r["is_online"]) for r in rows}

    async def events(self) -> int:
        count: int = await self.pg.fetchval("SELECT count(*) FROM gateway_event_outbox")
        return count


def sim_truth(vos: SimInstance) -> set[tuple[str, str, bool]]:
    return {
        (kind, gw.name, gw.online is not None)
        for kind in ("mapping", "routing")
        for gw in vos.state.table(kind)
    }


async def settled(edges: Edges, timeout_s: float = 20.0) -> None:
    """The gateways table equals the simulator's truth."""

    async def same() -> bool:
        return await edges.table() == sim_truth(edges.vos)

    await wait_until(same, timeout_s, "the gateways table to equal the simulator")


@pytest.fixture
def stack(run_stack: StackRunner) -> Callable[..., contextlib.AbstractAsyncContextManager[Edges]]:
    """`async with stack(prepare=…, **settings) as edges:` runs the whole system on one simulated VOS."""

    def _open(
        prepare: Callable[[SimInstance], None] | None = None, **overrides: Any
    ) -> contextlib.AbstractAsyncContextManager[Edges]:
        values: dict[str, Any] = {
            "auth": "required",
            "api_keys": {ADMIN["X-API-Key"]: "admin"},
            "poll_intervals": INTERVALS,
            "vos_timeout_s": 3.0,
            "lease_ttl_s": 3.0,
            "api_fetch_timeout_s": 5.0,
            "api_failure_backoff_s": 0,
        }
        values.update(overrides)
        return run_stack(Edges, values, gateways=30, admin=ADMIN, prepare=prepare)

    return _open


# -- 1. empty filters -------------------------------------------------------------------------------


GATEWAY_APIS = [
    "GetGatewayMapping",
    "GetGatewayMappingOnline",
    "GetGatewayRouting",
    "GetGatewayRoutingOnline",
]


async def test_empty_filters_leave_every_gateway_online_flag_and_event_count(
    stack: Callable[..., contextlib.AbstractAsyncContextManager[Edges]],
) -> None:
    async with stack() as edges:
        await settled(edges)
        await asyncio.sleep(1.5)  # a few more polls: nothing changes while drift is off
        table, events = await edges.table(), await edges.events()
        assert any(online for _, _, online in table) and events > 0
        # The older system's page posts `{"names": []}`; VOS answers that with an empty list.
        bodies: list[dict[str, Any]] = [{"names": []}, {"names": [], "softswitchName": ""}, {"names": None}]
        for body in bodies:
            for api_name in GATEWAY_APIS:
                for _ in range(2):
                    reply = await edges.client.post(
                        edges.proxy(api_name, refresh=True), json=body, headers=ADMIN
                    )
                    assert reply.status_code == 200, reply.text
                    data = reply.json()["data"]
                    # Answered as the unfiltered fetch: every gateway, not VOS's empty list.
                    listed = next(v for k, v in data.items() if k != "retCode")
                    expected = sum(
                        1
                        for kind, _, online in table
                        if kind in api_name.lower() and (online or "Online" not in api_name)
                    )
                    assert len(listed) == expected, (api_name, body)
        await asyncio.sleep(1.5)  # the writer has applied every forced result
        assert await edges.table() == table
        assert await edges.events() == events
        keys = await edges.pg.fetch("SELECT DISTINCT query_params::text AS p FROM vos_data_cache")
        assert {r["p"] for r in keys} <= {"{}"}  # one key: the empty filters were never keyed apart


# -- 3. names are identity ----------------------------------------------------------------------------

PADDED = ["edge-gw", " edge-gw", "edge-gw ", "  edge-gw  "]


def _add_padded(vos: SimInstance) -> None:
    for n, name in enumerate(PADDED):
        vos.state.add_gateway("mapping", name, online=n % 2 == 0, overrides={})


async def test_names_with_leading_and_trailing_spaces_are_kept_exactly(
    stack: Callable[..., contextlib.AbstractAsyncContextManager[Edges]],
) -> None:
    async with stack(prepare=_add_padded) as edges:
        await settled(edges)
        rows = await edges.pg.fetch(
            "SELECT gateway_name, is_online FROM gateways WHERE btrim(gateway_name) = 'edge-gw'"
        )
        assert {r["gateway_name"]: r["is_online"] for r in rows} == {
            name: n % 2 == 0 for n, name in enumerate(PADDED)
        }
        listed = await edges.gateways(q="edge-gw")
        assert sorted(item["gateway_name"] for item in listed) == sorted(PADDED)
        for name in PADDED:
            detail = await edges.client.get(
                f"/api/v1/instances/{edges.instance_id}/gateways/mapping/{quote(name)}", headers=ADMIN
            )
            assert detail.status_code == 200, (name, detail.text)
            assert detail.json()["gateway_name"] == name


# -- 5. one bad outbox row ------------------------------------------------------------------------------


async def _stream_subjects(edges: Edges, stream: str) -> list[str]:
    assert edges.settings.nats_url
    nc = await nats.connect(edges.settings.nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        subjects: list[str] = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            with contextlib.suppress(nats.js.errors.NotFoundError):
                subjects.append((await js.get_msg(stream, seq)).subject or "")
        return subjects
    finally:
        await nc.close()


async def test_a_bad_outbox_row_is_set_aside_and_later_events_go_out(
    stack: Callable[..., contextlib.AbstractAsyncContextManager[Edges]],
) -> None:
    async with stack() as edges:
        await settled(edges)

        async def relayed() -> bool:
            left = await edges.pg.fetchval(
                "SELECT count(*) FROM gateway_event_outbox WHERE published_at IS NULL"
            )
            return bool(left == 0)

        await wait_until(relayed, 10, "the first events to go out")
        # Two rows no relay can turn into an event, at the head of the outbox.
        bad = [
            await edges.pg.fetchval(
                "INSERT INTO gateway_event_outbox (vos_instance_id, gateway_type, gateway_name, is_online,"
                " previous, changed_at, payload) VALUES ($1, 'mapping', $2, true, false, now(), $3::jsonb)"
                " RETURNING id",
                edges.instance_id,
                name,
                payload,
            )
            for name, payload in (("bad-1", '{"instance_id": "not a number"}'), ("bad-2", "[1, 2]"))
        ]
        # A real transition after them.
        gateway = next(iter(edges.vos.state.table("mapping")))
        edges.vos.state.set_online("mapping", gateway.name, gateway.online is None)
        await settled(edges)

        async def flip_published() -> bool:
            row = await edges.pg.fetchrow(
                "SELECT published_at FROM gateway_event_outbox WHERE id > $1 AND gateway_name = $2",
                max(bad),
                gateway.name,
            )
            return row is not None and row["published_at"] is not None

        await wait_until(flip_published, 10, "the transition after the bad rows to be published")
        marked = await edges.pg.fetch(
            "SELECT id, published_at, dead_at, dead_reason FROM gateway_event_outbox"
            " WHERE id = ANY($1::bigint[])",
            bad,
        )
        assert len(marked) == 2
        for row in marked:
            assert row["published_at"] is None and row["dead_at"] is not None and row["dead_reason"], row
        dead = await _stream_subjects(edges, "VOS_DEAD_LETTER")
        assert dead == [f"vos.dead.gateway.online.{edges.instance_id}.mapping"] * 2
        published = await edges.pg.fetchval(
            "SELECT count(*) FROM gateway_event_outbox WHERE published_at IS NOT NULL"
        )
        assert len(await _stream_subjects(edges, "GATEWAY_EVENTS")) == published


# -- 2. dynamic gateways ---------------------------------------------------------------------------------

DYNAMIC = {"mapping": ("dyn-map", "remoteIps"), "routing": ("dyn-route", "remoteIp")}


def _add_dynamic(vos: SimInstance) -> None:
    for kind, (name, field) in DYNAMIC.items():
        vos.state.add_gateway(kind, name, online=True, overrides={"registerType": 1, field: ""})


async def test_a_dynamic_online_gateway_shows_its_registered_ip_and_is_found_by_it(
    stack: Callable[..., contextlib.AbstractAsyncContextManager[Edges]],
) -> None:
    async with stack(prepare=_add_dynamic) as edges:
        await settled(edges)
        for kind, (name, field) in DYNAMIC.items():
            gateway = edges.vos.state.table(kind).get(name)
            assert gateway is not None and gateway.online is not None
            assert gateway.config[field] == ""  # VOS has no address in a dynamic gateway's config
            registered = gateway.online.remote

            async def shown(ip: str | None = registered, name: str = name) -> bool:
                items = {i["gateway_name"]: i for i in await edges.gateways()}
                return bool(items[name]["ip_address"] == ip)

            await wait_until(shown, 10, f"{name} to show its registered address")
            found = await edges.gateways(q=registered)
            assert [(i["gateway_name"], i["ip_address"], i["ip_source"]) for i in found] == [
                (name, registered, "online")
            ]
            assert found[0]["remote_ips"] == [registered]
        # A static gateway's address comes from its config.
        static = next(i for i in await edges.gateways() if i["register_type"] == 0 and i["ip_address"])
        assert static["ip_source"] == "config"
        # Offline, a dynamic gateway has no registered address; online again, it has.
        edges.vos.state.set_online("mapping", "dyn-map", False)
        await settled(edges)

        async def cleared() -> bool:
            items = {i["gateway_name"]: i for i in await edges.gateways(type="mapping")}
            return items["dyn-map"]["ip_address"] is None and items["dyn-map"]["ip_source"] is None

        await wait_until(cleared, 10, "the offline dynamic gateway to have no address")
        edges.vos.state.set_online("mapping", "dyn-map", True)
        await settled(edges)
        back = edges.vos.state.table("mapping").get("dyn-map")
        assert back is not None and back.online is not None
        found = await edges.gateways(q=back.online.remote, type="mapping")
        assert [(i["gateway_name"], i["ip_source"]) for i in found] == [("dyn-map", "online")]


# -- 4. replies larger than the bus allows ------------------------------------------------------------


async def _cache_row(edges: Edges, api_name: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await edges.pg.fetchrow(
        "SELECT error_kind, error_message, synced_at, response_data IS NOT NULL AS has_data"
        " FROM vos_data_cache WHERE vos_instance_id = $1 AND api_name = $2 AND query_params = '{}'::jsonb",
        edges.instance_id,
        api_name,
    )
    return row


async def wait_until_too_large(edges: Edges, timeout_s: float) -> None:
    async def failed_too_large() -> bool:
        row = await _cache_row(edges, "GetGatewayMapping")
        return row is not None and row["error_kind"] == "too_large"

    await wait_until(failed_too_large, timeout_s, "GetGatewayMapping to be recorded as too_large")


async def flip_reaches_the_table(edges: Edges, kind: str, timeout_s: float) -> None:
    """Flip one gateway of `kind` in the simulator and wait for the gateways table to follow:
    the poller is not wedged by what the test broke."""
    gateway = next(iter(edges.vos.state.table(kind)))
    edges.vos.state.set_online(kind, gateway.name, gateway.online is None)

    async def flipped() -> bool:
        flag = await edges.pg.fetchval(
            "SELECT is_online FROM gateways WHERE gateway_type = $1 AND gateway_name = $2",
            kind,
            gateway.name,
        )
        return bool(flag == (gateway.online is not None))

    await wait_until(flipped, timeout_s, "the flip to reach the gateways table")


async def test_the_poller_refuses_to_start_when_the_bus_cannot_carry_the_promised_reply(
    make_settings: Callable[..., Settings],
) -> None:
    # The test server's max_payload is 33 MiB; a promised 40 MiB reply could never be published.
    settings = make_settings(vos_max_reply_bytes=40 * 1024 * 1024)
    with pytest.raises(SettingsError) as refused:
        await PollerService(settings).start()
    message = str(refused.value)
    assert "max_payload" in message and "VOSYNC_VOS_MAX_REPLY_BYTES" in message and "41943040" in message


async def test_a_reply_over_the_cap_is_a_too_large_failure_and_the_rest_flows(
    stack: Callable[..., contextlib.AbstractAsyncContextManager[Edges]],
) -> None:
    # 30 gateways' config is ~60 kB; their online lists are a few kB.
    async with stack(vos_max_reply_bytes=16 * 1024) as edges:
        await wait_until_too_large(edges, 15)
        row = await _cache_row(edges, "GetGatewayMapping")
        assert row is not None and "VOSYNC_VOS_MAX_REPLY_BYTES" in row["error_message"]
        # The poller is not wedged: the online lists keep flowing and a flip reaches the table.
        await flip_reaches_the_table(edges, "mapping", 15)
        polls = edges.poller.metrics.polls.labels("GetGatewayMapping", "too_large")._value.get()
        assert polls >= 1
        forced = await edges.client.post(
            edges.proxy("GetGatewayMapping", refresh=True), json={}, headers=ADMIN
        )
        assert forced.status_code == 502 and forced.json()["extra"]["error_kind"] == "too_large", forced.text


BIG_MEMO_GATEWAY = "big-memo"


def _add_big_memo(vos: SimInstance) -> None:
    # Random hex hardly compresses: the mapping config reply stays ~400 kB on the bus.
    vos.state.add_gateway(
        "mapping", BIG_MEMO_GATEWAY, online=True, overrides={"memo": os.urandom(200_000).hex()}
    )


async def test_a_result_over_the_servers_max_payload_becomes_a_too_large_failure(
    stack: Callable[..., contextlib.AbstractAsyncContextManager[Edges]], tmp_path: Path
) -> None:
    server = EmbeddedNats(tmp_path / "nats", extra_config="max_payload: 1048576")
    await asyncio.to_thread(server.start)
    try:
        async with stack(prepare=_add_big_memo, nats_url=server.url, vos_max_reply_bytes=768 * 1024) as edges:

            async def stored() -> bool:
                row = await _cache_row(edges, "GetGatewayMapping")
                return row is not None and row["synced_at"] is not None

            await wait_until(stored, 20, "the big GetGatewayMapping reply to be stored")
            # The server comes back with a smaller max_payload (a NATS configuration change).
            await asyncio.to_thread(server.stop)
            server.extra_config = "max_payload: 131072"
            await asyncio.to_thread(server.start)

            await wait_until_too_large(edges, 30)
            row = await _cache_row(edges, "GetGatewayMapping")
            assert row is not None and row["has_data"] and "max_payload" in row["error_message"]
            assert edges.poller.metrics.too_large.labels("GetGatewayMapping")._value.get() >= 1
            # Not wedged: a flip of a routing gateway still reaches the table.
            await flip_reaches_the_table(edges, "routing", 20)
    finally:
        await asyncio.to_thread(server.stop)
