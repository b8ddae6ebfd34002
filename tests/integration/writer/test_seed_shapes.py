"""The seed's shapes, through the writer service on the real bus (issue #17 item 11):

- `raw_data._data_sources` holds the raw config and online items;
- `SELECT … FROM gateways ORDER BY synced_at` shows sync health: every gateway a snapshot confirms
  shows that snapshot's time, although an unchanged snapshot writes no gateway row.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import nats

from tests.integration.writer.conftest import RunWriter
from tests.integration.writer.helpers import consumer_idle, gateways, publish
from tests.support.waiting import wait_for
from vosync.sim.replies import at, failed, mapping_item, mapping_online_item, ok, reply

MAP, MAP_ON = "GetGatewayMapping", "GetGatewayMappingOnline"
HEALTH = "SELECT gateway_name, synced_at, online_synced_at FROM gateways ORDER BY synced_at, gateway_name"


async def stored_rows(conn: asyncpg.Connection) -> dict[str, tuple[Any, ...]]:
    """The table's own rows: their version (xmin) and times, to see whether anything was written."""
    rows = await conn.fetch(
        "SELECT gateway_name, xmin::text, synced_at, online_synced_at, updated_at FROM gateway_rows"
    )
    return {r["gateway_name"]: tuple(r)[1:] for r in rows}


async def test_raw_items_in_data_sources_and_synced_at_is_the_last_confirmed_sync(
    run_writer: RunWriter, js: nats.js.JetStreamContext, pg_conn: asyncpg.Connection, instance: int
) -> None:
    config = [mapping_item("gw-a", 1), mapping_item("gw-b", 2)]
    online = [mapping_online_item("gw-a", 1), mapping_online_item("roamer", 3)]  # roamer: not in config
    async with run_writer() as _writer:
        await publish(js, ok(MAP, reply(MAP, config), fetched_at=10))
        await publish(js, ok(MAP_ON, reply(MAP_ON, online), fetched_at=11))
        await wait_for(lambda: consumer_idle(js), what="the first snapshots")
        rows = await gateways(pg_conn)
        assert {name for _, name in rows} == {"gw-a", "gw-b", "roamer"}
        a, b, roamer = rows[("mapping", "gw-a")], rows[("mapping", "gw-b")], rows[("mapping", "roamer")]
        # The seed's shape: the raw items as VOS sent them (the config item's remoteIps, not the
        # online one that wins in the merged part).
        assert a["raw_data"]["_data_sources"] == {"config": config[0], "online": online[0]}
        assert b["raw_data"]["_data_sources"] == {"config": config[1], "online": None}  # offline
        assert roamer["raw_data"]["_data_sources"] == {"config": None, "online": online[1]}
        assert a["raw_data"]["remoteIps"] == online[0]["remoteIps"]
        written = await stored_rows(pg_conn)

        # The same snapshots again, later: nothing changed, so no gateway row is written, yet each
        # row they confirm shows their time.
        await publish(js, ok(MAP, reply(MAP, config), fetched_at=70))
        await publish(js, ok(MAP_ON, reply(MAP_ON, online), fetched_at=71))
        await wait_for(lambda: consumer_idle(js), what="the unchanged snapshots")
        assert await stored_rows(pg_conn) == written
        health = [tuple(r) for r in await pg_conn.fetch(HEALTH)]
        assert health == [
            ("gw-a", at(70), at(71)),
            ("gw-b", at(70), at(71)),
            ("roamer", None, at(71)),  # never in config: no config sync to show
        ]

        # A failed fetch confirms nothing: the times stay; a filtered fetch is no snapshot either.
        await publish(js, failed(MAP, fetched_at=130))
        await publish(js, ok(MAP, reply(MAP, config[:1]), fetched_at=131, params={"names": ["gw-a"]}))
        await publish(js, failed(MAP_ON, fetched_at=131))
        await wait_for(lambda: consumer_idle(js), what="the failures")
        assert [tuple(r) for r in await pg_conn.fetch(HEALTH)] == health

        # A change is written as before, and its row shows the new time too.
        changed = [mapping_item("gw-a", 1, memo="moved"), config[1]]
        await publish(js, ok(MAP, reply(MAP, changed), fetched_at=190))
        await wait_for(lambda: consumer_idle(js), what="the changed snapshot")
        after = await stored_rows(pg_conn)
        assert after["gw-a"] != written["gw-a"] and after["gw-a"][1] == at(190)
        assert after["gw-b"] == written["gw-b"]  # unchanged: not rewritten
        assert [tuple(r) for r in await pg_conn.fetch(HEALTH)] == [
            ("gw-a", at(190), at(71)),
            ("gw-b", at(190), at(71)),
            ("roamer", None, at(71)),
        ]
        assert (await gateways(pg_conn))[("mapping", "gw-a")]["raw_data"]["_data_sources"]["config"][
            "memo"
        ] == ("moved")
