"""Phone, fee-rate-group and suite reads, from rows the real writer projected from VOS-shaped
replies: the list contract the Phones tab depends on, filters, paging, counts, one phone, bad input."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg
import httpx
import nats
import pytest

from tests.integration.api.conftest import (
    ADMIN,
    BAD_LIST_QUERIES,
    READ,
    assert_each_query_is_400,
    insert_instance,
)
from tests.integration.api.test_events_and_health import event, sse_blocks
from tests.integration.writer.test_phone_projection import (
    detail_item,
    details,
    groups_reply,
    listing,
    suite,
    suites_reply,
)
from vosync.shared import bus
from vosync.shared.channels import PHONE_ONLINE
from vosync.shared.messages import FetchResult, PhoneOnlineEvent
from vosync.shared.settings import Settings
from vosync.sim.replies import at
from vosync.writer.apply import BatchApplier
from vosync.writer.db import create_pool

ITEM_KEYS = {
    "e164",
    "is_online",
    "remote_ip",
    "concurrent_calls",
    "register_time",
    "product_id",
    "last_seen_at",
}


@pytest.fixture
async def seeded(pg_conn: asyncpg.Connection, make_settings: Callable[..., Settings]) -> int:
    """Instance 'vos-a' with 4 phones listed at t=1, one dropped at t=2 (3 online, 1 offline), details,
    2 fee rate groups and 2 suites; all through the writer's batch transaction."""
    instance = await insert_instance(pg_conn)
    settings = make_settings()
    pool = await create_pool(settings)
    try:
        applier = BatchApplier(pool, settings.catalogue)

        def on(result: FetchResult) -> FetchResult:
            return result.model_copy(update={"instance_id": instance})

        numbers = ["8613800000001", "8613800000002", "8613800000003", "862100000004"]
        await applier.apply([on(listing(numbers, 1))])
        await applier.apply(
            [
                on(
                    details(
                        [detail_item(n, remoteIp=f"203.0.113.{i}") for i, n in enumerate(numbers, 1)], 1.5
                    )
                ),
                on(listing(numbers[:3], 2)),
                on(groups_reply([{"name": "国内标准", "memo": "std"}, {"name": "VIP", "memo": ""}], 2)),
                on(
                    suites_reply(
                        [suite(1, adminPassword="SECRET-1"), suite(2, rentType=3, rentPeriod=604_800)], 2
                    )
                ),
            ]
        )
    finally:
        await pool.close()
    return instance


async def test_list_contract_counts_and_last_seen(api: httpx.AsyncClient, seeded: int) -> None:
    res = await api.get(f"/api/v1/instances/{seeded}/phones", headers=READ)
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["instance_name"] == "vos-a" and body["total"] == 4
    assert body["counts"] == {"total": 4, "online": 3, "offline": 1}
    assert body["synced_at"] == at(2).isoformat().replace("+00:00", "Z")
    items = {item["e164"]: item for item in body["items"]}
    assert all(set(item) == ITEM_KEYS for item in body["items"])
    first = items["8613800000001"]
    assert first["is_online"] and first["remote_ip"] == "203.0.113.1" and first["concurrent_calls"] == 1
    assert first["product_id"] == "Yealink SIP-T46S" and first["register_time"].startswith("2026-03-01")
    assert first["last_seen_at"] == body["synced_at"]  # online: seen by the newest listing
    gone = items["862100000004"]
    assert not gone["is_online"] and gone["concurrent_calls"] == 0
    assert gone["last_seen_at"] == at(1).isoformat().replace("+00:00", "Z")


async def test_filters_and_paging(api: httpx.AsyncClient, seeded: int) -> None:
    base = f"/api/v1/instances/{seeded}/phones"

    async def numbers(**params: str | int) -> tuple[int, list[str]]:
        body = (await api.get(base, params=params, headers=READ)).json()
        return body["total"], [i["e164"] for i in body["items"]]

    assert await numbers(online="false") == (1, ["862100000004"])
    assert (await numbers(online="true"))[0] == 3
    assert await numbers(q="8621") == (1, ["862100000004"])
    assert await numbers(q="203.0.113.2") == (1, ["8613800000002"])
    assert await numbers(q="%") == (0, [])  # a literal, not a wildcard
    assert await numbers(limit=2, offset=1) == (4, ["8613800000002", "8613800000003"])


async def test_one_phone_and_unknown_ones(api: httpx.AsyncClient, seeded: int) -> None:
    res = await api.get(f"/api/v1/instances/{seeded}/phones/8613800000002", headers=READ)
    assert res.status_code == 200, res.text
    phone = res.json()
    assert phone["protocol"] == "SIP" and phone["local_ip"] == "10.0.0.10" and phone["crypto_type"] == 0
    assert phone["raw_data"]["e164"] == "8613800000002" and phone["update_time"].startswith("2026-03-01")
    for unknown in ("8600", "x" * 300):
        missing = await api.get(f"/api/v1/instances/{seeded}/phones/{unknown}", headers=READ)
        assert missing.status_code == 404 and "no phone" in missing.json()["detail"]
    assert (await api.get(f"/api/v1/instances/{seeded + 5}/phones/8600", headers=READ)).status_code == 404


async def test_fee_rate_groups_and_suites(api: httpx.AsyncClient, seeded: int) -> None:
    groups = (await api.get(f"/api/v1/instances/{seeded}/fee-rate-groups", headers=READ)).json()
    assert groups["total"] == 2
    assert [(g["name"], g["memo"]) for g in groups["items"]] == [("VIP", None), ("国内标准", "std")]
    suites = (await api.get(f"/api/v1/instances/{seeded}/suites", headers=READ)).json()
    assert [(s["id"], s["rent_type"], s["rent_period"]) for s in suites["items"]] == [
        (1, 1, 1),
        (2, 3, 604_800),
    ]
    assert suites["items"][0]["rent_fee"] == 99.0 and suites["items"][0]["raw_data"]["giftMoney"] == 10.0
    assert suites["items"][0]["raw_data"]["adminPassword"] == "***"  # masked for a read key
    admin = (await api.get(f"/api/v1/instances/{seeded}/suites", headers=ADMIN)).json()
    assert admin["items"][0]["raw_data"]["adminPassword"] == "SECRET-1"


async def test_bad_input_is_a_4xx_with_a_message(api: httpx.AsyncClient, pg_conn: asyncpg.Connection) -> None:
    a = await insert_instance(pg_conn)
    base = f"/api/v1/instances/{a}/phones"
    await assert_each_query_is_400(api, base, BAD_LIST_QUERIES)
    bad_number = await api.get(f"{base}/86%00", headers=READ)
    assert bad_number.status_code == 400 and bad_number.json()["detail"]
    for path in ("phones", "phones/86", "fee-rate-groups", "suites"):
        assert (await api.get(f"/api/v1/instances/{a + 7}/{path}", headers=READ)).status_code == 404
        assert (await api.get(f"/api/v1/instances/{a}/{path}")).status_code == 401
    empty = (await api.get(base, headers=READ)).json()
    assert empty["total"] == 0 and empty["items"] == [] and empty["synced_at"] is None


async def test_typed_schemas_in_the_openapi_document(api: httpx.AsyncClient) -> None:
    doc = (await api.get("/schema/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    assert set(schemas["PhoneItem"]["properties"]) == ITEM_KEYS
    for name in ("PhoneList", "PhoneDetail", "FeeRateGroupList", "SuiteList"):
        assert name in schemas
    paths = doc["paths"]
    assert "/api/v1/instances/{instance_id}/phones" in paths
    assert "/api/v1/instances/{instance_id}/phones/{e164}" in paths


async def test_phone_events_over_sse_only_to_phone_clients_of_the_instance(
    api: httpx.AsyncClient, api_settings: Settings
) -> None:
    nc = await nats.connect(api_settings.require_nats_url())
    try:
        async with (
            api.stream(
                "GET", "/api/v1/events/phone-online", params={"instance_id": 1}, headers=READ
            ) as phones,
            api.stream(
                "GET", "/api/v1/events/gateway-online", params={"instance_id": 1}, headers=READ
            ) as gws,
        ):
            assert phones.status_code == 200 and gws.status_code == 200
            phone_blocks, gateway_blocks = sse_blocks(phones.aiter_lines()), sse_blocks(gws.aiter_lines())
            assert (await anext(phone_blocks))[""] == "connected"
            assert (await anext(gateway_blocks))[""] == "connected"
            for instance_id, event_id in ((2, 10), (1, 11)):
                body = PhoneOnlineEvent(
                    event_id=event_id,
                    instance_id=instance_id,
                    e164="8613800000001",
                    is_online=False,
                    previous=True,
                    changed_at=datetime.now(UTC),
                )
                await nc.publish(
                    PHONE_ONLINE.subject(instance_id=instance_id), body.model_dump_json().encode()
                )
            gateway = event(1, "gw-1", True, 12)
            await nc.publish(bus.event_subject(1, gateway.gateway_type), gateway.model_dump_json().encode())
            block = await asyncio.wait_for(anext(phone_blocks), 5)
            assert block["event"] == "phone.online" and block["id"] == "11"
            data = json.loads(block["data"])
            assert data["e164"] == "8613800000001" and data["is_online"] is False and data["previous"] is True
            # the gateway stream hears the gateway event only
            other = await asyncio.wait_for(anext(gateway_blocks), 5)
            assert other["event"] == "gateway.online" and other["id"] == "12"
    finally:
        await nc.close()
