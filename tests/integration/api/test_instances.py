"""Instance CRUD: validation, uniqueness, admin-only changes, and the KV mirror the pollers watch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import nats
import pytest
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from tests.fixtures.api import RunApi
from tests.integration.api.conftest import ADMIN, READ, insert_instance
from vosync.shared import bus
from vosync.shared.instances import InstanceRecord
from vosync.shared.settings import Settings

INSTANCE_KEYS = {"id", "name", "base_url", "description", "enabled", "timeout_s", "created_at", "updated_at"}


async def kv_record(kv: KeyValue, instance_id: int) -> InstanceRecord | None:
    try:
        entry = await kv.get(bus.instance_key(instance_id))
    except KeyNotFoundError:
        return None
    return InstanceRecord.from_kv(entry.value) if entry.value else None


@pytest.fixture
async def instances_kv(api: httpx.AsyncClient, api_settings: Settings) -> Any:
    nc = await nats.connect(api_settings.require_nats_url())
    try:
        yield await nc.jetstream().key_value(bus.INSTANCES_BUCKET)
    finally:
        await nc.close()


async def test_crud_is_mirrored_to_kv(api: httpx.AsyncClient, instances_kv: KeyValue) -> None:
    created = await api.post(
        "/api/v1/instances",
        json={"name": " vos-1 ", "base_url": "http://10.0.0.5:80/", "description": "lab", "timeout_s": 5},
        headers=ADMIN,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == INSTANCE_KEYS
    assert body["name"] == "vos-1" and body["base_url"] == "http://10.0.0.5:80" and body["enabled"] is True
    iid = body["id"]
    assert await kv_record(instances_kv, iid) == InstanceRecord(
        id=iid, name="vos-1", base_url="http://10.0.0.5:80", enabled=True, timeout_s=5
    )

    listed = (await api.get("/api/v1/instances", headers=READ)).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == iid
    assert (await api.get(f"/api/v1/instances/{iid}", headers=READ)).json()["description"] == "lab"

    patched = await api.patch(
        f"/api/v1/instances/{iid}", json={"enabled": False, "timeout_s": None}, headers=ADMIN
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["enabled"] is False and patched.json()["description"] == "lab"
    assert patched.json()["updated_at"] >= body["updated_at"]
    record = await kv_record(instances_kv, iid)
    assert record is not None and record.enabled is False and record.timeout_s is None

    assert (await api.delete(f"/api/v1/instances/{iid}", headers=ADMIN)).status_code == 204
    assert await kv_record(instances_kv, iid) is None
    assert (await api.get(f"/api/v1/instances/{iid}", headers=READ)).status_code == 404
    assert (await api.delete(f"/api/v1/instances/{iid}", headers=ADMIN)).status_code == 404


async def test_bad_instances_are_refused_with_a_message(api: httpx.AsyncClient) -> None:
    good = {"name": "vos-1", "base_url": "http://10.0.0.5"}
    assert (await api.post("/api/v1/instances", json=good, headers=ADMIN)).status_code == 201
    duplicate = await api.post("/api/v1/instances", json=good, headers=ADMIN)
    assert duplicate.status_code == 409 and "vos-1" in duplicate.json()["detail"]
    bad_bodies: list[Any] = [
        {"name": "x", "base_url": "ftp://10.0.0.5"},
        {"name": "x", "base_url": "10.0.0.5"},
        {"name": "x", "base_url": "http://"},
        {"name": "", "base_url": "http://h"},
        {"name": "   ", "base_url": "http://h"},
        {"name": "x", "base_url": "http://h", "timeout_s": 0},
        {"name": "x", "base_url": "http://h", "timeout_s": -1},
        {"name": "x", "base_url": "http://h", "enabled": "sometimes"},
        {"name": "x", "base_url": "http://h", "unknown": 1},
        {"name": "x\x00", "base_url": "http://h"},
        {"base_url": "http://h"},
        [],
    ]
    for bad in bad_bodies:
        res = await api.post("/api/v1/instances", json=bad, headers=ADMIN)
        assert res.status_code == 400, (bad, res.text)
        assert res.json()["detail"]


async def test_patch_checks_and_conflicts(api: httpx.AsyncClient, pg_conn: asyncpg.Connection) -> None:
    a = await insert_instance(pg_conn, "vos-a")
    await insert_instance(pg_conn, "vos-b")
    path = f"/api/v1/instances/{a}"
    assert (await api.patch(path, json={"name": "vos-b"}, headers=ADMIN)).status_code == 409
    assert (await api.patch(path, json={"base_url": "gopher://x"}, headers=ADMIN)).status_code == 400
    unchanged = await api.patch(path, json={}, headers=ADMIN)
    assert unchanged.status_code == 200 and unchanged.json()["name"] == "vos-a"
    missing = await api.patch("/api/v1/instances/999", json={"enabled": False}, headers=ADMIN)
    assert missing.status_code == 404


async def test_read_keys_cannot_change_instances(api: httpx.AsyncClient, pg_conn: asyncpg.Connection) -> None:
    a = await insert_instance(pg_conn)
    new = {"name": "vos-x", "base_url": "http://h"}
    assert (await api.post("/api/v1/instances", json=new, headers=READ)).status_code == 403
    path = f"/api/v1/instances/{a}"
    assert (await api.patch(path, json={"enabled": False}, headers=READ)).status_code == 403
    assert (await api.delete(f"/api/v1/instances/{a}", headers=READ)).status_code == 403
    assert (await api.post("/api/v1/instances", json=new)).status_code == 401
    assert (await api.get("/api/v1/instances")).status_code == 401
    assert (await api.get("/api/v1/instances", headers=READ)).status_code == 200
    assert (await api.get(f"/api/v1/instances/{a}", headers=READ)).json()["enabled"] is True


async def test_table_is_reconciled_into_kv_at_start(
    make_settings: Callable[..., Settings], run_api: RunApi, pg_conn: asyncpg.Connection
) -> None:
    settings = make_settings(auth="off")
    nc = await nats.connect(settings.require_nats_url())
    try:
        js = nc.jetstream()
        config = next(c for c in bus.bucket_configs(settings) if c.bucket == bus.INSTANCES_BUCKET)
        kv = await bus.ensure_bucket(js, config)
        kept = await insert_instance(pg_conn, "kept", "http://10.0.0.1")
        changed = await insert_instance(pg_conn, "changed", "http://10.0.0.2")
        await kv.put(
            bus.instance_key(changed), InstanceRecord(id=changed, name="old", base_url="http://o").to_kv()
        )
        await kv.put(
            bus.instance_key(4242), InstanceRecord(id=4242, name="gone", base_url="http://g").to_kv()
        )

        await run_api(settings)

        assert await kv_record(kv, kept) == InstanceRecord(id=kept, name="kept", base_url="http://10.0.0.1")
        assert await kv_record(kv, changed) == InstanceRecord(
            id=changed, name="changed", base_url="http://10.0.0.2"
        )
        assert await kv_record(kv, 4242) is None
    finally:
        await nc.close()
