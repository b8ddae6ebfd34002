"""The whole system for a fault scenario: the VOS simulator, and the poller, writer and api as real
processes of their console scripts, on NATS and PostgreSQL given by the test.

Intervals, TTLs, timeouts and backoff are shortened through VOSYNC_ settings so that a scenario sees
many polls, expiries and recoveries in seconds. `final_checks()` ends every scenario with the four
invariants of tests/faults/invariants.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from tests.faults.invariants import (
    ApiRecord,
    ApiReport,
    EventsReport,
    ResultsReport,
    check_api_answers,
    check_events_exactly_once,
    check_results_accounted,
    poll_until,
    wait_gateways_match,
)
from tests.support.postgres import plain_pg_url
from tests.support.processes import ServiceProc
from vosync.shared import bus
from vosync.shared.instances import InstanceRecord
from vosync.shared.settings import Settings
from vosync.sim.cluster import SimCluster

ADMIN_KEY = "faults-admin-key"
READ_KEY = "faults-read-key"
ADMIN = {"X-API-Key": ADMIN_KEY}
READ = {"X-API-Key": READ_KEY}

# Polls every 1–3 s, replies that expire in seconds (so api reads go to VOS too), a 1 s VOS timeout,
# leases of 3 s and backoff capped at 3 s: a scenario sees many of each in seconds.
POLL_INTERVALS = {
    "GetGatewayMappingOnline": 1.0,
    "GetGatewayRoutingOnline": 1.0,
    "GetGatewayMapping": 2.0,
    "GetGatewayRouting": 2.0,
    "GetAllPhoneOnline": 3.0,
    "GetFeeRateGroup": 3.0,
    "GetSuite": 3.0,
}
CACHE_TTLS = {
    "GetGatewayMappingOnline": 3.0,
    "GetGatewayRoutingOnline": 3.0,
    "GetGatewayMapping": 10.0,
    "GetGatewayRouting": 10.0,
    "GetAllPhoneOnline": 5.0,
    "GetFeeRateGroup": 5.0,
    "GetSuite": 5.0,
}
VOS_TIMEOUT_S = 1.0
API_FETCH_TIMEOUT_S = 2.5
# An api answer later than this is a hang: the fetch timeout plus generous room for a busy machine.
API_ANSWER_LIMIT_S = API_FETCH_TIMEOUT_S + 5.0
LEASE_TTL_S = 3.0


def service_env(nats_url: str, database_url: str, **overrides: Any) -> dict[str, str]:
    """The VOSYNC_ environment of every service of a scenario; `overrides` as setting=value."""
    values: dict[str, Any] = {
        "nats_url": nats_url,
        "database_url": database_url,
        "poll_intervals": json.dumps(POLL_INTERVALS),
        "cache_ttls": json.dumps(CACHE_TTLS),
        "vos_timeout_s": VOS_TIMEOUT_S,
        # The load's readers share one key and force refreshes faster than a client may; the
        # limiter has its own test (tests/integration/api/test_forced_refresh.py).
        "api_refresh_rate_per_minute": 1_000_000,
        # Their forced refreshes are the load's stream of on-demand results (each reaching VOS);
        # the cooldown that would share them has its own test there too.
        "api_refresh_cooldown_s": 0,
        "lease_ttl_s": LEASE_TTL_S,
        "backoff_after_failures": 3,
        "backoff_base_s": 0.5,
        "backoff_max_s": 3.0,
        "writer_batch_size": 64,
        "writer_ack_wait_s": 4.0,
        "writer_nak_delay_s": 0.5,
        "auth": "required",
        "api_keys": f"{ADMIN_KEY}:admin,{READ_KEY}:read",
        "api_fetch_timeout_s": API_FETCH_TIMEOUT_S,
        "api_failure_backoff_s": 1.0,
        "log_level": "INFO",
    }
    values.update(overrides)
    return {f"VOSYNC_{name.upper()}": str(value) for name, value in values.items()}


def settings_of(env: dict[str, str]) -> Settings:
    """The Settings the services read from `env` (for the test's own bus declarations)."""
    values: dict[str, Any] = {k.removeprefix("VOSYNC_").lower(): v for k, v in env.items()}
    return Settings(**values)


async def register_instances(
    conn: asyncpg.Connection, js: JetStreamContext, settings: Settings, urls: list[str]
) -> dict[int, str]:
    """Rows in vos_instances and their KV mirror (as the api writes them); {instance id: VOS url}."""
    kv = await bus.ensure_bucket(js, bus.bucket_configs(settings)[0])
    out: dict[int, str] = {}
    for index, url in enumerate(urls, start=1):
        instance_id: int = await conn.fetchval(
            "INSERT INTO vos_instances (name, base_url) VALUES ($1, $2) RETURNING id", f"sim-{index}", url
        )
        record = InstanceRecord(id=instance_id, name=f"sim-{index}", base_url=url)
        await kv.put(bus.instance_key(instance_id), record.to_kv())
        out[instance_id] = url
    return out


@dataclass
class FinalReport:
    results: ResultsReport
    events: EventsReport
    api: ApiReport | None

    def summary(self) -> str:
        api = ""
        if self.api is not None:
            api = (
                f"; api {self.api.requests} requests {dict(self.api.statuses)} sources"
                f" {dict(self.api.sources)} p50 {self.api.p50_ms:.0f} ms p99 {self.api.p99_ms:.0f} ms"
            )
        return (
            f"{self.results.summary()}; {self.events.events} events of {self.events.gateways} gateways{api}"
        )


class FaultSystem:
    """Processes by name ('poller', 'writer', 'api'); `sim` may be None (no VOS needed)."""

    def __init__(
        self,
        workdir: Path,
        env: dict[str, str],
        nc: NatsClient,
        conn: asyncpg.Connection,
        sim: SimCluster | None,
        instances: dict[int, str],
    ) -> None:
        self.workdir = workdir
        self.env = env
        self.settings = settings_of(env)
        self.nc = nc
        self.js = nc.jetstream()
        self.conn = conn
        self.sim = sim
        self.instances = instances
        self.procs: dict[str, ServiceProc] = {}
        self.database_url = env["VOSYNC_DATABASE_URL"]
        self.down: list[tuple[float, float]] = []  # windows in which the api process was not running

    def add(self, name: str, script: str, **overrides: Any) -> ServiceProc:
        env = {**self.env, **{f"VOSYNC_{k.upper()}": str(v) for k, v in overrides.items()}}
        if script == "vosync-poller":
            env.setdefault("VOSYNC_POLLER_ID", f"faults-{name}")
        proc = ServiceProc(name, script, env, self.workdir)
        self.procs[name] = proc
        return proc

    async def reconnect_db(self, timeout_s: float = 30) -> None:
        """A fresh test connection (after PostgreSQL restarted under the old one)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                conn = await asyncpg.connect(plain_pg_url(self.database_url))
                break
            except (OSError, asyncpg.PostgresError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        old, self.conn = self.conn, conn
        with contextlib.suppress(Exception):
            await old.close(timeout=1)

    @property
    def api_url(self) -> str:
        return self.procs["api"].url

    async def start(self, *names: str) -> None:
        """Start the named processes side by side and wait until each is ready."""
        for name in names:
            self.procs[name].start()
        await asyncio.gather(*(self.procs[name].wait_ready() for name in names))

    async def kill(self, name: str) -> float:
        """SIGKILL a process; returns the monotonic time of the kill."""
        at = time.monotonic()
        await asyncio.to_thread(self.procs[name].kill)
        return at

    async def restart(self, name: str, killed_at: float | None = None) -> None:
        self.procs[name].start()
        await self.procs[name].wait_ready()
        if name == "api" and killed_at is not None:
            self.down.append((killed_at, time.monotonic()))

    async def stop(self, name: str) -> int | None:
        return await self.procs[name].stop()

    async def stop_all(self) -> dict[str, int | None]:
        codes = await asyncio.gather(*(proc.stop() for proc in self.procs.values()))
        return dict(zip(self.procs, codes, strict=True))

    def logs(self, lines: int = 40) -> str:
        return "\n".join(f"--- {name} ---\n{proc.log_tail(lines)}" for name, proc in self.procs.items())

    async def wait_progress(self, timeout_s: float = 30, api_name: str = "GetGatewayMappingOnline") -> None:
        """Until every instance has a result of `api_name` applied that was fetched from now on."""
        since = await self.conn.fetchval("SELECT now()")

        async def fresh() -> bool:
            count = await self.conn.fetchval(
                "SELECT count(DISTINCT vos_instance_id) FROM vos_data_cache"
                " WHERE api_name = $1 AND last_attempt_at > $2",
                api_name,
                since,
            )
            return bool(count == len(self.instances))

        await poll_until(fresh, timeout_s, f"new {api_name} results of every instance applied")

    async def sim_post(self, url: str, path: str, body: dict[str, Any]) -> Any:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(f"{url}{path}", json=body)
            assert response.status_code < 300, response.text
            return response.json()

    async def calm_vos(self) -> None:
        """No faults, no drift: from now on the simulator's truth stands still."""
        if self.sim is None:
            return
        for instance in self.sim.instances:
            instance.faults.clear()
            instance.set_changes(0, 0)

    async def final_checks(
        self,
        records: list[ApiRecord] | None = None,
        *,
        converge_timeout_s: float = 30,
        gateways: bool = True,
    ) -> FinalReport:
        """Calm the VOS, wait until the table equals it, stop the pollers (no more results), let the
        writer settle, then check all four invariants."""
        await self.calm_vos()
        if gateways and self.instances:
            await wait_gateways_match(self.conn, self.instances, converge_timeout_s)
        for name, proc in self.procs.items():
            if proc.script.name == "vosync-poller" and proc.alive():
                code = await proc.stop()
                assert code == 0, f"{name} did not stop cleanly ({code}):\n{proc.log_tail()}"
        results = await check_results_accounted(self.js, self.conn, catalogue=self.settings.catalogue)
        events = await check_events_exactly_once(self.js, self.conn)
        if gateways and self.instances:
            await wait_gateways_match(self.conn, self.instances, 1)
        api = None
        if records is not None:
            api = check_api_answers(records, down=self.down, max_elapsed_s=API_ANSWER_LIMIT_S)
        return FinalReport(results, events, api)
