"""One api process for the bad-input and security tests: its own NATS and its own database (in the
session's PostgreSQL), so the per-test cleaning of the shared servers never runs under it.

Seeded with two instances (created through the api, so the KV mirror is real), fresh cache rows and a
gateway whose VOS data hold secrets at several depths and spellings (SECRETS).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from tests.faults.system import ADMIN, service_env
from tests.support.postgres import execute, plain_pg_url
from tests.support.processes import ServiceProc
from vosync.deploy.embedded import EmbeddedNats
from vosync.shared.cache_key import cache_key
from vosync.shared.catalogue import API_PATH_PREFIX
from vosync.shared.db.migrate import upgrade

DATABASE = "vosync_faults_api"
DROP_DATABASE = f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'

SECRETS = {
    "password": "SECRET-pw-1",
    "customerPassword": "SECRET-cpw-2",
    "sipPassword": "SECRET-sip-3",
    "PASSWORD": "SECRET-upper-4",
    "adminPassword": "SECRET-admin-5",
    "userpassword": "SECRET-deep-6",
}
GATEWAY = "gw-secret"
PHONE = "8613800000000"
MAPPING_REPLY = {
    "retCode": 0,
    "infoGatewayMappings": [
        {
            "name": GATEWAY,
            "password": SECRETS["password"],
            "remoteIps": "10.0.0.1",
            "nested": {
                "customerPassword": SECRETS["customerPassword"],
                "list": [{"sipPassword": SECRETS["sipPassword"], "PASSWORD": SECRETS["PASSWORD"]}],
            },
        }
    ],
}
SUITE_REPLY = {
    "retCode": 0,
    "infoSuites": [
        {
            "id": 1,
            "adminPassword": SECRETS["adminPassword"],
            "deep": [[{"x": {"y": {"userpassword": SECRETS["userpassword"]}}}]],
            "passwordHint": "not a secret",
        }
    ],
}


@dataclass
class ApiUnderTest:
    url: str
    proc: ServiceProc
    nats_url: str
    database_url: str
    instance_id: int  # seeded with secrets
    victim_id: int  # for admin requests that change or delete


def _database_url(server_url: str, name: str) -> str:
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{name}"


async def _fresh_database(server_url: str) -> str:
    await execute(server_url, DROP_DATABASE, f'CREATE DATABASE "{DATABASE}"')
    url = _database_url(server_url, DATABASE)
    await upgrade(url)
    return url


async def _seed_rows(database_url: str, instance_id: int) -> None:
    conn = await asyncpg.connect(plain_pg_url(database_url))
    now = datetime.now(UTC)
    try:
        for api, reply in (("GetGatewayMapping", MAPPING_REPLY), ("GetSuite", SUITE_REPLY)):
            path = API_PATH_PREFIX + api
            await conn.execute(
                """INSERT INTO vos_data_cache (vos_instance_id, api_path, api_name, cache_key, query_params,
                       response_data, is_valid, synced_at, expires_at, last_attempt_at)
                   VALUES ($1, $2, $3, $4, '{}'::jsonb, $5::jsonb, true, $6, $7, $6)""",
                instance_id,
                path,
                api,
                cache_key(path, {}),
                json.dumps(reply),
                now,
                now + timedelta(hours=1),
            )
        item = MAPPING_REPLY["infoGatewayMappings"][0]  # type: ignore[index]
        sources = {"config": {"api": "GetGatewayMapping", "synced_at": now.isoformat()}, "online": None}
        await conn.execute(
            """INSERT INTO gateway_rows (vos_instance_id, gateway_type, gateway_name, in_config, ip_address,
                   config_data, data_sources, synced_at)
               VALUES ($1, 'mapping', $2, true, '10.0.0.1', $3::jsonb, $4::jsonb, $5)""",
            instance_id,
            GATEWAY,
            json.dumps(item),
            json.dumps(sources),
            now,
        )
        # A phone and a suite whose raw items carry secrets (issue 22's routes mask them too).
        await conn.execute(
            "INSERT INTO phones (vos_instance_id, e164, is_online, detail_data, detail_synced_at)"
            " VALUES ($1, $2, true, $3::jsonb, $4)",
            instance_id,
            PHONE,
            json.dumps({"e164": PHONE, "password": SECRETS["password"]}),
            now,
        )
        suite = SUITE_REPLY["infoSuites"][0]  # type: ignore[index]
        await conn.execute(
            "INSERT INTO suites (vos_instance_id, suite_id, raw_data, synced_at)"
            " VALUES ($1, 1, $2::jsonb, $3)",
            instance_id,
            json.dumps(suite),
            now,
        )
    finally:
        await conn.close()


def _create_instance(client: httpx.Client, name: str) -> int:
    response = client.post("/api/v1/instances", json={"name": name, "base_url": "http://127.0.0.1:9"})
    assert response.status_code == 201, response.text
    instance_id: int = response.json()["id"]
    return instance_id


def start_api_under_test(workdir: Path, pg_server_url: str) -> Iterator[ApiUnderTest]:
    nats = EmbeddedNats(workdir / "nats")
    nats.start()
    database_url = asyncio.run(_fresh_database(pg_server_url))
    proc = ServiceProc("api", "vosync-api", service_env(nats.url, database_url), workdir)
    try:
        proc.start()
        asyncio.run(proc.wait_ready())
        with httpx.Client(base_url=proc.url, headers=ADMIN, timeout=10) as client:
            instance_id = _create_instance(client, "secrets")
            victim_id = _create_instance(client, "victim")
        asyncio.run(_seed_rows(database_url, instance_id))
        yield ApiUnderTest(proc.url, proc, nats.url, database_url, instance_id, victim_id)
    finally:
        code = asyncio.run(proc.stop())
        nats.stop()
        asyncio.run(execute(pg_server_url, DROP_DATABASE))
        print(proc.log_tail(80))
    assert code == 0, f"the api did not stop cleanly ({code})"


def openapi_operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path template, operation) of every operation in the schema."""
    return [
        (method.upper(), path, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def fill_path(template: str, api: ApiUnderTest, *, instance_id: int | None = None) -> str:
    values = {
        "instance_id": str(instance_id or api.instance_id),
        "api_name": "GetSuite",
        "gateway_type": "mapping",
        "gateway_name": GATEWAY,
        "e164": PHONE,
    }
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    assert "{" not in template, f"unknown path parameter in {template}"
    return template
