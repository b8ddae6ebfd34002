"""Helpers of the writer's integration tests: instances, publishing results, reading streams, waiting."""

from __future__ import annotations

import json
from typing import Any, TypeVar

import asyncpg
from nats.js import JetStreamContext

from vosync.shared import bus
from vosync.shared.codec import decode, encode
from vosync.shared.messages import FetchResult, GatewayOnlineEvent

T = TypeVar("T")

# The gateway APIs the writer tests feed (the VOS API names)
MAP, MAP_ON = "GetGatewayMapping", "GetGatewayMappingOnline"
ROUTE, ROUTE_ON = "GetGatewayRouting", "GetGatewayRoutingOnline"


async def add_instance(conn: asyncpg.Connection, instance_id: int = 1) -> None:
    await conn.execute(
        "INSERT INTO vos_instances (id, name, base_url) VALUES ($1, $2, $3)",
        instance_id,
        f"vos{instance_id}",
        f"http://127.0.0.1:9/{instance_id}",
    )


async def publish(js: JetStreamContext, result: FetchResult, *, dedup: bool = True) -> None:
    """Publish as the poller does; `dedup=False` leaves out Nats-Msg-Id (a second copy is stored)."""
    body, headers = encode(result)
    if dedup:
        headers["Nats-Msg-Id"] = result.msg_id
    ack = await js.publish(bus.result_subject(result.instance_id, result.api_name), body, headers=headers)
    assert ack.stream == bus.RESULTS_STREAM


async def consumer_idle(js: JetStreamContext) -> bool:
    """Every stored result delivered and acknowledged (or terminated)."""
    info = await js.consumer_info(bus.RESULTS_STREAM, bus.WRITER_DURABLE)
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


async def drained(js: JetStreamContext, conn: asyncpg.Connection) -> bool:
    """The consumer is idle and every outbox row is published."""
    if not await consumer_idle(js):
        return False
    unpublished = await conn.fetchval("SELECT count(*) FROM gateway_event_outbox WHERE published_at IS NULL")
    return bool(unpublished == 0)


async def stream_messages(js: JetStreamContext, stream: str) -> list[Any]:
    """Every message stored in a stream, in order (raw nats messages with headers)."""
    info = await js.stream_info(stream)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1) if info.state.messages else []:
        out.append(await js.get_msg(stream, seq))
    return out


async def events(js: JetStreamContext) -> list[tuple[dict[str, str], GatewayOnlineEvent, str]]:
    """(headers, event, subject) of every message on GATEWAY_EVENTS, in stream order."""
    found = []
    for msg in await stream_messages(js, bus.EVENTS_STREAM):
        found.append(
            (dict(msg.headers or {}), decode(GatewayOnlineEvent, msg.data, msg.headers), msg.subject)
        )
    return found


async def gateways(conn: asyncpg.Connection, instance_id: int = 1) -> dict[tuple[str, str], dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT * FROM gateways WHERE vos_instance_id = $1 ORDER BY gateway_type, gateway_name", instance_id
    )
    out = {}
    for row in rows:
        record = dict(row)
        for column in ("config_data", "online_data", "data_sources", "raw_data"):
            if isinstance(record[column], str):
                record[column] = json.loads(record[column])
        out[(record["gateway_type"], record["gateway_name"])] = record
    return out


async def cache_row(conn: asyncpg.Connection, result: FetchResult) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT * FROM vos_data_cache WHERE vos_instance_id = $1 AND api_path = $2 AND cache_key = $3",
        result.instance_id,
        result.api_path,
        result.cache_key,
    )
    if row is None:
        return None
    record = dict(row)
    if isinstance(record["response_data"], str):
        record["response_data"] = json.loads(record["response_data"])
    return record
