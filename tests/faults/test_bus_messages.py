"""Duplicate, reordered and malformed messages on `vos.result.>`, consumed by a real writer process.

Real replies of the simulator at three moments (s1, s2, s3; gateways flip in between) are published
out of order, twice (with the same Nats-Msg-Id, which the stream drops, and without one, so the
writer sees the copy), and interleaved with messages that are not FetchResults at all. The writer
applies each snapshot once, ignores the older ones, dead-letters the malformed ones with a reason,
keeps consuming, and emits exactly one event per transition between s1, s2 and s3.
"""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.faults.conftest import MakeSystem
from tests.faults.crafted import POLLER_ID, publish, publish_raw, result, vos_reply
from tests.faults.invariants import read_stream, wait_writer_drained
from vosync.shared import bus
from vosync.shared.codec import ENCODING_HEADER, ZLIB
from vosync.shared.messages import FetchResult

pytestmark = pytest.mark.slow

ONLINE_APIS = {"mapping": "GetGatewayMappingOnline", "routing": "GetGatewayRoutingOnline"}
CONFIG_APIS = {"mapping": "GetGatewayMapping", "routing": "GetGatewayRouting"}
LIST_KEYS = {"mapping": "infoGatewayMappingOnlines", "routing": "infoGatewayRoutingOnlines"}


def online_names(replies: dict[str, Any]) -> set[tuple[str, str]]:
    return {(kind, item["name"]) for kind, reply in replies.items() for item in reply[LIST_KEYS[kind]]}


def malformed(instance_id: int, good: FetchResult) -> list[tuple[str, bytes, dict[str, str] | None]]:
    """(subject, body, headers) of messages no writer can apply."""
    subject = bus.result_subject(instance_id, "GetGatewayMappingOnline")
    as_json = json.loads(good.model_dump_json())
    bad_key = json.dumps({**as_json, "cache_key": "not-an-md5"}).encode()
    no_reply = json.dumps({**as_json, "ok": True, "response": None}).encode()
    huge_id = json.dumps({**as_json, "instance_id": 2**40}).encode()
    wrong_types = json.dumps({**as_json, "ok": "maybe", "fetched_at": "yesterday"}).encode()
    bomb = zlib.compress(b'{"instance_id": 1, "junk": "' + b"x" * (16 * 1024 * 1024) + b'"}', 9)
    return [
        (subject, b"not json at all", None),
        (subject, b"", None),
        (subject, b"\xff\xfe\x00\x80 not utf-8", None),
        (subject, b'{"hello": "world"}', None),
        (subject, b"[" * 100_000, None),  # deeply nested JSON
        (subject, good.model_dump_json().encode()[:200], None),  # truncated
        (subject, bad_key, None),
        (subject, no_reply, None),
        (subject, huge_id, None),
        (subject, wrong_types, None),
        (subject, b"this is not zlib", {ENCODING_HEADER: ZLIB}),
        (subject, bomb, {ENCODING_HEADER: ZLIB}),  # 16 MB of JSON that is not a FetchResult
    ]


async def test_duplicate_reordered_and_malformed_results(
    make_system: MakeSystem, nats_url: str, database_url: str
) -> None:
    system = await make_system(nats_url=nats_url, database_url=database_url, sim_instances=1, gateways=25)
    system.add("writer", "vosync-writer", writer_max_deliver=3)
    await system.start("writer")
    instance_id, vos_url = next(iter(system.instances.items()))
    js = system.js
    t0 = datetime.now(UTC) - timedelta(minutes=1)
    snapshots: list[dict[str, Any]] = []
    async with httpx.AsyncClient(timeout=10) as client:
        for api in CONFIG_APIS.values():
            await publish(js, result(instance_id, api, await vos_reply(client, vos_url, api), t0))
        for step in range(3):
            if step:  # gateways flip between snapshots; the simulator's truth stays at s3's state
                (await client.post(f"{vos_url}/_sim/changes/tick", json={"fraction": 0.3})).raise_for_status()
            snapshots.append(
                {kind: await vos_reply(client, vos_url, api) for kind, api in ONLINE_APIS.items()}
            )
    s1, s2, s3 = snapshots
    at = [t0 + timedelta(seconds=10 * (n + 1)) for n in range(3)]

    def online(step: int) -> list[FetchResult]:
        return [
            result(instance_id, ONLINE_APIS[kind], snapshots[step][kind], at[step]) for kind in ONLINE_APIS
        ]

    plan: list[tuple[FetchResult, str | None]] = []
    plan += [(r, "auto") for r in online(0)]  # s1
    plan += [(r, "auto") for r in online(1)]  # s2
    plan += [(r, "auto") for r in online(1)]  # s2 again, same Nats-Msg-Id: the stream drops it
    plan += [(r, None) for r in online(1)]  # s2 again without one: the writer sees a duplicate
    plan += [(r, None) for r in online(0)]  # s1 again, after s2: older than the rows
    plan += [(r, "auto") for r in online(2)]  # s3
    plan += [(r, None) for r in online(1)]  # s2 once more, after s3
    good = online(0)[0]
    junk = malformed(instance_id, good)
    acks = []
    for index, (item, msg_id) in enumerate(plan):
        acks.append(await publish(js, item, msg_id=msg_id))
        if index < len(junk):
            subject, body, headers = junk[index]
            await publish_raw(js, subject, body, headers)
    for subject, body, headers in junk[len(plan) :]:
        await publish_raw(js, subject, body, headers)
    duplicates = [ack for ack in acks if ack.duplicate]
    assert len(duplicates) == 2, "the same Nats-Msg-Id twice must be stored once"

    # A last good result after all the junk: the writer is still consuming.
    (await publish(js, result(instance_id, "GetSuite", {"retCode": 0, "infoSuites": []}, at[2])))
    await wait_writer_drained(js, system.conn, 60)
    assert system.procs["writer"].alive()
    assert await system.conn.fetchval(
        "SELECT count(*) FROM vos_data_cache WHERE vos_instance_id = $1 AND api_name = 'GetSuite'",
        instance_id,
    )

    dead = await read_stream(js, bus.DEAD_LETTER_STREAM)
    assert len(dead) == len(junk), [m.headers.get("Vosync-Dead-Reason") for m in dead]
    assert all(m.headers.get("Vosync-Dead-Reason") for m in dead)
    # Transitions: every gateway online in s1 (first seen), then each flip s1→s2 and s2→s3.
    on1, on2, on3 = online_names(s1), online_names(s2), online_names(s3)
    expected_events = len(on1) + len(on1 ^ on2) + len(on2 ^ on3)
    assert on1 ^ on2 and on2 ^ on3, "the ticks flipped nothing"
    report = await system.final_checks()
    print(report.summary())
    assert report.events.events == expected_events
    assert report.results.dead_lettered == len(junk)
    rows = await system.conn.fetch(
        "SELECT gateway_type, gateway_name FROM gateways WHERE vos_instance_id = $1 AND is_online",
        instance_id,
    )
    assert {(r["gateway_type"], r["gateway_name"]) for r in rows} == on3
    assert all(r.poller_id == POLLER_ID for r, _ in plan)
