"""Security of the api process: auth outside loopback, read vs admin on every route of the OpenAPI
schema, secrets masked for read keys, base_url limited to http(s) with a host.

The routes are enumerated from the api's own /schema/openapi.json, so a new route is checked
without anyone adding it here. No SQL built from strings: test_sql_sources.py. NATS permissions of
each service: tests/integration/deploy/test_nats_permissions.py (referenced in docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import nats
import pytest

from tests.faults.api_stack import GATEWAY, SECRETS, ApiUnderTest, fill_path, openapi_operations
from tests.faults.system import ADMIN, READ
from tests.support.processes import clean_environ, script_path
from vosync.shared import bus

pytestmark = pytest.mark.slow

# POSTs that read: allowed for the read role, with the reason.
READ_ONLY_POSTS = {
    "proxyVosApi": "reads a (cached) VOS reply; a POST only because the VOS params are a JSON body",
}
# Routes anyone may call, with the reason.
PUBLIC = {
    "live": "liveness probe, says nothing",
    "ready": "readiness probe: which dependency is down, no data",
    "metrics": "Prometheus counters for scraping, no VOS data",
}
SECRET_VALUES = list(SECRETS.values())


async def schema_of(api: ApiUnderTest) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"{api.url}/schema/openapi.json")
        assert response.status_code == 200
        schema: dict[str, Any] = response.json()
        return schema


async def run_api_expecting_refusal(env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        str(script_path("vosync-api")),
        env={
            **clean_environ(),
            "VOSYNC_NATS_URL": "nats://127.0.0.1:1",
            "VOSYNC_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
            **env,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 90)
    except TimeoutError:
        proc.kill()
        raise AssertionError(f"the api started with {env} instead of refusing") from None
    assert proc.returncode is not None
    return proc.returncode, err.decode(errors="replace")


async def test_auth_off_is_refused_outside_loopback() -> None:
    cases = [
        {"VOSYNC_AUTH": "off", "VOSYNC_API_HOST": "0.0.0.0"},
        {"VOSYNC_AUTH": "off", "VOSYNC_API_HOST": "::"},
        {"VOSYNC_AUTH": "off", "VOSYNC_API_HOST": "192.0.2.10"},
        {"VOSYNC_AUTH": "required", "VOSYNC_API_HOST": "0.0.0.0", "VOSYNC_API_KEYS": ""},
    ]
    outcomes = await asyncio.gather(*(run_api_expecting_refusal(env) for env in cases))
    for env, (code, err) in zip(cases, outcomes, strict=True):
        assert code == 2, (env, code, err[-2000:])
        lines = [line for line in err.strip().splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), (env, err[-2000:])  # one sentence
        if env["VOSYNC_AUTH"] == "off":
            assert "VOSYNC_AUTH=off" in lines[0] and "loopback" in lines[0], lines[0]
            assert env["VOSYNC_API_HOST"] in lines[0]
        else:
            assert "VOSYNC_API_KEYS" in lines[0], lines[0]


async def observable_state(api: ApiUnderTest) -> dict[str, Any]:
    """What a refused request must not change: instances, cache rows, the KV mirror."""
    async with httpx.AsyncClient(base_url=api.url, headers=ADMIN, timeout=10) as client:
        instances = (await client.get("/api/v1/instances")).json()["items"]
        cache = {i["id"]: (await client.get(f"/api/v1/instances/{i['id']}/cache")).json() for i in instances}
    nc = await nats.connect(api.nats_url)
    try:
        kv = await nc.jetstream().key_value(bus.INSTANCES_BUCKET)
        keys = sorted(await kv.keys())
        mirror = {k: json.loads((await kv.get(k)).value or b"null") for k in keys}
    finally:
        await nc.close()
    for rows in cache.values():  # ages move on by themselves
        for row in rows.get("items", []):
            row.pop("age_s", None)
    return {"instances": instances, "cache": cache, "kv": mirror}


async def test_every_route_enforces_read_and_admin(api_under_test: ApiUnderTest) -> None:
    api = api_under_test
    ops = openapi_operations(await schema_of(api))
    mutating = [(m, p, op) for m, p, op in ops if m != "GET"]
    assert {op["operationId"] for _, _, op in mutating} >= {
        "createInstance",
        "deleteInstance",
        "syncInstance",
    }
    before = await observable_state(api)
    async with httpx.AsyncClient(base_url=api.url, timeout=15) as client:
        for method, path, op in ops:
            op_id = op["operationId"]
            url = fill_path(path, api)
            body: dict[str, Any] | None = {} if method in {"POST", "PATCH", "PUT"} else None
            anonymous = await client.request(method, url, json=body)
            if op_id in PUBLIC:
                assert anonymous.status_code in (200, 503), (op_id, anonymous.status_code)
                continue
            assert anonymous.status_code == 401, (op_id, anonymous.status_code, anonymous.text)
            assert isinstance(anonymous.json().get("detail"), str)
            wrong = await client.request(method, url, json=body, headers={"X-API-Key": "not-a-key"})
            assert wrong.status_code == 401, (op_id, wrong.status_code)
            if method == "GET":
                continue  # reads are open to the read role (checked below with secrets)
            read = await client.request(method, url, json=body, headers=READ)
            if op_id in READ_ONLY_POSTS:
                assert read.status_code == 200, (op_id, read.status_code, read.text)
            else:
                assert read.status_code == 403, (op_id, read.status_code, read.text)
                assert "admin" in read.json()["detail"]
    assert await observable_state(api) == before, "a refused request changed something"

    # The admin role passes every guard (on an instance this test may change and delete).
    async with httpx.AsyncClient(base_url=api.url, headers=ADMIN, timeout=15) as client:
        for method, path, op in sorted(mutating, key=lambda m: m[2]["operationId"] == "deleteInstance"):
            url = fill_path(path, api, instance_id=api.victim_id)
            body = {} if method in {"POST", "PATCH", "PUT"} else None
            response = await client.request(method, url, json=body)
            assert response.status_code not in (401, 403, 500), (
                op["operationId"],
                response.status_code,
                response.text,
            )
        assert (await client.get(f"/api/v1/instances/{api.victim_id}")).status_code == 404


async def test_secrets_are_masked_for_read_keys(api_under_test: ApiUnderTest) -> None:
    api = api_under_test
    proxied = [
        f"/api/v1/vos-api/instances/{api.instance_id}/{name}" for name in ("GetGatewayMapping", "GetSuite")
    ]
    one_gateway = f"/api/v1/instances/{api.instance_id}/gateways/mapping/{GATEWAY}"
    async with httpx.AsyncClient(base_url=api.url, timeout=15) as client:
        # The admin sees the secrets (they are there), and warms the in-process cache with them.
        for path in proxied:
            admin = await client.post(path, json={}, headers=ADMIN)
            assert admin.status_code == 200 and admin.json()["data_source"] == "database", admin.text
        assert SECRETS["sipPassword"] in (await client.post(proxied[0], json={}, headers=ADMIN)).text
        assert SECRETS["userpassword"] in (await client.post(proxied[1], json={}, headers=ADMIN)).text
        assert SECRETS["customerPassword"] in (await client.get(one_gateway, headers=ADMIN)).text

        bodies: dict[str, str] = {}
        for path in proxied:
            response = await client.post(path, json={}, headers=READ)
            assert response.status_code == 200, response.text
            bodies[f"POST {path}"] = response.text
        for method, template, op in openapi_operations(await schema_of(api)):
            if method != "GET" or op["operationId"] in (
                "gatewayOnlineEvents",
                "phoneOnlineEvents",
                "gatewayChangeEvents",
                "metrics",
            ):
                continue
            response = await client.get(fill_path(template, api), headers=READ)
            assert response.status_code in (200, 503), (template, response.status_code)
            bodies[f"GET {template}"] = response.text
    leaks = [(route, value) for route, text in bodies.items() for value in SECRET_VALUES if value in text]
    assert not leaks, f"secrets shown to a read key: {leaks}"
    mapping = json.loads(bodies[f"POST {proxied[0]}"])["data"]["infoGatewayMappings"][0]
    assert mapping["password"] == "***" and mapping["nested"]["customerPassword"] == "***"
    assert mapping["nested"]["list"][0] == {"sipPassword": "***", "PASSWORD": "***"}
    suite = json.loads(bodies[f"POST {proxied[1]}"])["data"]["infoSuites"][0]
    assert suite["deep"][0][0]["x"]["y"]["userpassword"] == "***"
    assert suite["passwordHint"] == "not a secret"
    raw = json.loads(bodies["GET /api/v1/instances/{instance_id}/gateways/{gateway_type}/{gateway_name}"])
    assert raw["raw_data"]["password"] == "***" and raw["raw_data"]["nested"]["customerPassword"] == "***"
    phone = json.loads(bodies["GET /api/v1/instances/{instance_id}/phones/{e164}"])
    assert phone["raw_data"]["password"] == "***"
    suites = json.loads(bodies["GET /api/v1/instances/{instance_id}/suites"])
    assert suites["items"][0]["raw_data"]["adminPassword"] == "***"


BAD_BASE_URLS = [
    "file:///etc/passwd",
    "javascript:alert(1)",
    "ftp://10.0.0.1",
    "gopher://10.0.0.1:70",
    "data:text/plain,hello",
    "http://",
    "https://",
    "http:///external",
    "http://:8080",
    "//10.0.0.1",
    "10.0.0.1",
    "http:10.0.0.1",
    "http://10.0.0.1:0",
    "http://10.0.0.1:99999",
    "http://exa mple.com",
    "http://10.0.0.1\x00.evil",
    "",
    " ",
]
GOOD_BASE_URLS = ["http://10.0.0.5", "https://vos.example.com:8443/vos/"]


async def test_base_url_must_be_http_or_https_with_a_host(api_under_test: ApiUnderTest) -> None:
    api = api_under_test
    async with httpx.AsyncClient(base_url=api.url, headers=ADMIN, timeout=15) as client:
        before = (await client.get("/api/v1/instances")).json()["items"]
        for index, url in enumerate(BAD_BASE_URLS):
            created = await client.post("/api/v1/instances", json={"name": f"bad-{index}", "base_url": url})
            assert 400 <= created.status_code < 500, (url, created.status_code, created.text)
            assert isinstance(created.json().get("detail"), str)
            patched = await client.patch(f"/api/v1/instances/{api.instance_id}", json={"base_url": url})
            assert 400 <= patched.status_code < 500, (url, patched.status_code, patched.text)
        assert (await client.get("/api/v1/instances")).json()["items"] == before
        for index, url in enumerate(GOOD_BASE_URLS):
            created = await client.post("/api/v1/instances", json={"name": f"good-{index}", "base_url": url})
            assert created.status_code == 201, (url, created.text)
            assert (await client.delete(f"/api/v1/instances/{created.json()['id']}")).status_code == 204
    nc = await nats.connect(api.nats_url)
    try:
        kv = await nc.jetstream().key_value(bus.INSTANCES_BUCKET)
        for key in await kv.keys():
            record = json.loads((await kv.get(key)).value or b"{}")
            assert record["base_url"].startswith(("http://", "https://")), record
    finally:
        await nc.close()
