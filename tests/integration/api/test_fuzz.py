"""The OpenAPI schema fuzzed with schemathesis against a running api (real NATS + PostgreSQL, seeded
rows, a test poller answering fetches): no 5xx, and every response conforms to the schema (status
code documented, content type, headers, body).

Path ids are pinned to a seeded instance so requests reach the real logic instead of 404s; deleting
that instance is fuzzed in a second run of its own. Bounded: fixed seed, 20 examples per operation.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import asyncpg
import pytest

from tests.integration.api.conftest import (
    ADMIN_KEY,
    StartTestPoller,
    insert_cache_row,
    insert_instance,
    ok_result,
)
from tests.integration.api.test_gateways import seed
from vosync.api.service import ApiService

CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    )
)


async def schemathesis(url: str, config: Path, *selection: str) -> tuple[int, str]:
    st = Path(sys.executable).with_name("schemathesis")
    proc = await asyncio.create_subprocess_exec(
        str(st),
        "--no-color",
        "--config-file",
        str(config),
        "run",
        f"{url}/schema/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        "20",
        "--seed",
        "20240501",
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--header",
        f"X-API-Key: {ADMIN_KEY}",
        # Endless streams; they have their own tests.
        "--exclude-path",
        "/api/v1/events/gateway-online",
        "--exclude-path",
        "/api/v1/events/phone-online",
        "--exclude-path",
        "/api/v1/events/gateway-changes",
        *selection,
        cwd=config.parent,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(proc.communicate(), 240)
    assert proc.returncode is not None
    return proc.returncode, output.decode(errors="replace")


@pytest.mark.slow
async def test_openapi_fuzz_no_server_errors_no_schema_violations(
    api_service: ApiService, pg_conn: asyncpg.Connection, start_test_poller: StartTestPoller, tmp_path: Path
) -> None:
    instance_id, _, _ = await seed(pg_conn)
    mapping = {"retCode": 0, "infoGatewayMappings": []}
    await insert_cache_row(pg_conn, instance_id, "GetGatewayMapping", mapping)
    await insert_cache_row(pg_conn, instance_id, "GetSuite", {"retCode": 0}, age_s=900, ttl_s=300)
    poller = await start_test_poller(lambda req: ok_result(req, {"retCode": 0, "infoSuites": []}))
    config = tmp_path / "schemathesis.toml"
    config.write_text(f'[parameters]\n"path.instance_id" = {instance_id}\n')

    code, output = await schemathesis(api_service.url, config, "--exclude-method", "DELETE")
    print(output)
    assert code == 0, output[-8000:]
    assert "passed" in output and poller.requests, "the fuzzing never reached the fetch path"

    victim = await insert_instance(pg_conn, "to-delete")
    config.write_text(f'[parameters]\n"path.instance_id" = {victim}\n')
    code, output = await schemathesis(api_service.url, config, "--include-method", "DELETE")
    assert code == 0, output[-8000:]
