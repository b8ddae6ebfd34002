"""A real Prometheus against a running stack: every service's target up, and the shipped
"VOS failing" alert firing while the simulator's instance fails and resolving when it recovers.

The rules are deploy/monitoring/rules/vosync-alerts.yml as shipped, with their time spans scaled
down (minutes become tens of seconds) so that the test takes seconds: what is tested is that the
expressions select the right series, not Prometheus's clock.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.stack import RunningStack, StackRunner
from tests.support.waiting import wait_until
from tests.unit.deploy.test_monitoring import RULES
from vosync.deploy.processes import free_port

pytestmark = pytest.mark.slow

ADMIN = {"X-API-Key": "mon-admin"}
INTERVALS = {"GetGatewayMappingOnline": 1.0, "GetGatewayRoutingOnline": 1.0}


def scaled_rules(text: str) -> str:
    """Minutes → tens of seconds in ranges, offsets and `for:` (1m → 10s, [5m:30s] → [50s:3s])."""
    text = re.sub(r"(\d+)m\b", lambda m: f"{int(m.group(1)) * 10}s", text)
    text = re.sub(r":30s\]", ":3s]", text)
    return re.sub(r"for: (\d+)0s", lambda m: f"for: {max(int(m.group(1)), 2)}s", text)


@contextlib.contextmanager
def prometheus(tmp: Path, targets: dict[str, str]) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus is not installed (make test installs Debian's prometheus as root)")
    (tmp / "rules.yml").write_text(scaled_rules(RULES.read_text()))
    jobs = "".join(
        f"  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
        for job, target in targets.items()
    )
    (tmp / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files: ['{tmp / 'rules.yml'}']\nscrape_configs:\n{jobs}"
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "prometheus.log", "w"),  # noqa: SIM115  (closed with the process)
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def until(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    # Prometheus scrapes and evaluates once a second: asking it more often only loads the machine.
    await wait_until(check, timeout_s, what, step_s=0.5)


@pytest.fixture
async def stack(run_stack: StackRunner) -> AsyncIterator[tuple[Any, dict[str, str], str]]:
    overrides: dict[str, Any] = {
        "auth": "required",
        "api_keys": {ADMIN["X-API-Key"]: "admin"},
        "poll_intervals": INTERVALS,
        "vos_timeout_s": 1.0,
    }
    async with run_stack(RunningStack, overrides, gateways=20, admin=ADMIN, client_timeout_s=10) as running:
        targets = {
            "vosync-api": running.api.url.removeprefix("http://"),
            "vosync-poller": f"127.0.0.1:{running.poller.ops_port}",
            "vosync-writer": f"127.0.0.1:{running.writer.ops_port}",
        }
        yield running.vos, targets, str(running.instance_id)


async def test_targets_up_and_the_vos_failing_alert_fires_and_resolves(
    stack: tuple[Any, dict[str, str], str], tmp_path: Path
) -> None:
    vos, targets, instance_id = stack
    with prometheus(tmp_path, targets) as url:
        async with httpx.AsyncClient(base_url=url, timeout=5) as prom:

            async def query(expr: str) -> list[dict[str, Any]]:
                with contextlib.suppress(httpx.TransportError):
                    reply = await prom.get("/api/v1/query", params={"query": expr})
                    if reply.status_code == 200:
                        return list(reply.json()["data"]["result"])
                return []

            async def all_up() -> bool:
                up = await query("up")
                return {r["metric"]["job"]: r["value"][1] for r in up} == dict.fromkeys(targets, "1")

            async def alert_state() -> str:
                with contextlib.suppress(httpx.TransportError):
                    alerts = (await prom.get("/api/v1/alerts")).json()["data"]["alerts"]
                    states = {a["state"] for a in alerts if a["labels"]["alertname"] == "VosyncVosFailing"}
                    return "firing" if "firing" in states else ("pending" if states else "inactive")
                return "inactive"

            async def state_is(wanted: str) -> bool:
                return await alert_state() == wanted

            await until(all_up, 30, "every service's target up")
            await until(lambda: _has(query("vosync_vos_last_success_timestamp_seconds")), 30, "VOS metrics")
            assert await alert_state() == "inactive"

            vos.faults.set({"api": "*", "mode": "http_500"})
            await until(lambda: state_is("firing"), 60, "VosyncVosFailing firing")
            firing = (await prom.get("/api/v1/alerts")).json()["data"]["alerts"]
            firing_for = {a["labels"].get("instance_id") for a in firing if a["state"] == "firing"}
            assert firing_for == {instance_id}

            vos.faults.clear()
            await until(lambda: state_is("inactive"), 60, "VosyncVosFailing resolved")


async def _has(results: Awaitable[list[dict[str, Any]]]) -> bool:
    return bool(await results)
