"""`make soak`: the whole system under chaos for a long time, then every invariant.

    .venv/bin/python -m tests.faults.soak [--minutes 30] [--instances 20] [--gateways 200] [--report F]

(or VOSYNC_SOAK_MINUTES). Runs `vosync up --sim-instances 20` (embedded NATS and PostgreSQL, the
simulator, api, writer and poller as processes) with polls faster than the defaults, drift on in
every simulated VOS, and chaos: every CHAOS_PERIOD_S each VOS instance draws a state (healthy, one
of the simulator's fault modes, latency up to the VOS timeout, or hung), and one VOS is hung for
minutes (3, or a third of a shorter run after the warm-up), while readers load the api. It samples
each service's RSS; start RSS is taken after a warm-up (2 minutes, or a quarter of a shorter run),
end RSS at the end. At the end: chaos off, the gateways of all instances must equal
the simulator's, the poller is stopped, and the results, events and api answers are checked with
tests/faults/invariants.py. Prints results applied, events, error rates, api latency p50/p99 and
each service's RSS; exits 1 if an invariant fails or a service's RSS grew more than 20 %.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats
import psutil

from tests.faults.invariants import (
    InvariantError,
    check_api_answers,
    check_events_exactly_once,
    check_results_accounted,
    wait_gateways_match,
)
from tests.faults.load import ApiLoad, routes_for
from tests.support.processes import clean_environ, metric_sum, parse_metrics, script_path
from vosync.deploy.processes import free_port
from vosync.shared import bus

POLL_INTERVALS = {
    "GetGatewayMappingOnline": 5.0,
    "GetGatewayRoutingOnline": 5.0,
    "GetGatewayMapping": 15.0,
    "GetGatewayRouting": 15.0,
    "GetAllPhoneOnline": 30.0,
    "GetFeeRateGroup": 30.0,
    "GetSuite": 30.0,
}
CACHE_TTLS = {"GetGatewayMappingOnline": 10.0, "GetGatewayRoutingOnline": 10.0, "GetSuite": 60.0}
VOS_TIMEOUT_S = 3.0
API_FETCH_TIMEOUT_S = 5.0
CHAOS_PERIOD_S = 15.0
SAMPLE_PERIOD_S = 10.0
RSS_GROWTH_LIMIT = 0.20
SERVICES = ("vosync-poller", "vosync-writer", "vosync-api")
OTHERS = ("vos-sim", "nats-server", "postgres")
FAULT_MODES = ("timeout", "http_500", "invalid_json", "empty_body", "ret_code")


def log(text: str) -> None:
    print(f"[soak {datetime.now(UTC):%H:%M:%S}] {text}", flush=True)


@dataclass
class Launched:
    proc: subprocess.Popen[str]
    api_url: str
    lines: list[str] = field(default_factory=list)
    up: threading.Event = field(default_factory=threading.Event)

    def banner(self, label: str) -> list[str]:
        return [line.split()[1] for line in self.lines if line.strip().startswith(label)]


def launch(data_dir: Path, instances: int, gateways: int) -> Launched:
    port = free_port()
    env = {
        **clean_environ(),
        "VOSYNC_POLL_INTERVALS": json.dumps(POLL_INTERVALS),
        "VOSYNC_CACHE_TTLS": json.dumps(CACHE_TTLS),
        "VOSYNC_VOS_TIMEOUT_S": str(VOS_TIMEOUT_S),
        "VOSYNC_API_FETCH_TIMEOUT_S": str(API_FETCH_TIMEOUT_S),
        "VOSYNC_BACKOFF_MAX_S": "20",
        "VOSYNC_LOG_LEVEL": "WARNING",
    }
    argv = [str(script_path("vosync")), "up", "--data-dir", str(data_dir), "--api-port", str(port)]
    argv += ["--sim-instances", str(instances), "--sim-gateways", str(gateways)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    launched = Launched(proc, f"http://127.0.0.1:{port}")

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            launched.lines.append(line.rstrip())
            if line.startswith("Press Ctrl-C"):
                launched.up.set()
            elif " | " in line and ("error" in line.lower() or "traceback" in line.lower()):
                print(line.rstrip(), flush=True)

    threading.Thread(target=read, daemon=True).start()
    return launched


def service_processes(launcher_pid: int) -> dict[str, psutil.Process]:
    """The launcher's children by role: the three services, and the rest for information."""
    found: dict[str, psutil.Process] = {}
    for child in psutil.Process(launcher_pid).children(recursive=True):
        try:
            cmdline = " ".join(child.cmdline())
        except psutil.Error:
            continue
        for role in (*SERVICES, *OTHERS):
            if role in cmdline and role not in found:
                found[role] = child
    return found


def ops_url(proc: psutil.Process) -> str:
    return f"http://127.0.0.1:{proc.environ()['VOSYNC_OPS_PORT']}"


class Chaos:
    """Every period, each VOS instance draws: healthy (60 %), a fault mode on every API (15 %), one
    API failing (10 %), latency up to the VOS timeout (10 %), or hung (5 %). Drift stays on.

    One instance (the last) also has an outage of minutes: hung on every API from `outage[0]` to
    `outage[1]` seconds into the run (the simulator runs all instances in one process, so "down" is
    a VOS that accepts connections and never answers, as a hung Tomcat does)."""

    def __init__(self, sim_urls: list[str], outage: tuple[float, float], seed: int = 20241) -> None:
        self.sim_urls = sim_urls
        self.outage = outage
        self.rng = random.Random(seed)
        self.draws: Counter[str] = Counter()
        self._stop = asyncio.Event()

    async def run(self, client: httpx.AsyncClient, started: float) -> None:
        in_outage = False
        while not self._stop.is_set():
            elapsed = time.monotonic() - started
            for url in self.sim_urls:
                if url == self.sim_urls[-1] and self.outage[0] <= elapsed < self.outage[1]:
                    if not in_outage:
                        log(f"outage: {url} hung on every API for {(self.outage[1] - elapsed) / 60:.1f} min")
                        in_outage = True
                    await self._apply(client, url, [{"api": "*", "mode": "timeout"}])
                    continue
                if in_outage and url == self.sim_urls[-1]:
                    log(f"outage over: {url}")
                    in_outage = False
                await self._apply(client, url, self._draw())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), CHAOS_PERIOD_S)

    def _draw(self) -> list[dict[str, Any]]:
        roll = self.rng.random()
        if roll < 0.60:
            self.draws["healthy"] += 1
            return []
        if roll < 0.75:
            mode = self.rng.choice(FAULT_MODES)
            self.draws[mode] += 1
            return [{"api": "*", "mode": mode}]
        if roll < 0.85:
            mode = self.rng.choice(FAULT_MODES)
            api = self.rng.choice(list(POLL_INTERVALS))
            self.draws[f"one api {mode}"] += 1
            return [{"api": api, "mode": mode}]
        if roll < 0.95:
            self.draws["latency"] += 1
            return [{"api": "*", "latency_ms": [0, VOS_TIMEOUT_S * 1000]}]
        self.draws["hung"] += 1
        return [{"api": "*", "mode": "timeout"}]

    async def _apply(self, client: httpx.AsyncClient, url: str, rules: list[dict[str, Any]]) -> None:
        with contextlib.suppress(httpx.HTTPError):
            await client.delete(f"{url}/_sim/faults")
            for rule in rules:
                await client.post(f"{url}/_sim/faults", json=rule)

    async def stop(self, client: httpx.AsyncClient) -> None:
        self._stop.set()
        for url in self.sim_urls:
            await client.delete(f"{url}/_sim/faults")
            await client.post(f"{url}/_sim/changes", json={"interval_s": 0, "fraction": 0})


@dataclass
class RssSamples:
    by_role: dict[str, list[tuple[float, int]]] = field(default_factory=dict)

    def sample(self, procs: dict[str, psutil.Process], at: float) -> None:
        for role, proc in procs.items():
            with contextlib.suppress(psutil.Error):
                self.by_role.setdefault(role, []).append((at, proc.memory_info().rss))

    def window(self, role: str, start: float, end: float) -> int | None:
        values = [rss for at, rss in self.by_role.get(role, []) if start <= at <= end]
        return int(statistics.median(values)) if values else None


def mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 1024 / 1024:.0f} MiB"


async def soak(minutes: float, instances: int, gateways: int, report_path: Path | None) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="vosync-soak-"))
    data_dir.chmod(0o755)
    duration = minutes * 60
    warmup = min(120.0, duration / 4)
    log(
        f"{minutes:g} min, {instances} VOS instances x {gateways} gateways of each type;"
        f" warm-up {warmup:.0f} s"
    )
    launched = launch(data_dir, instances, gateways)
    failures: list[str] = []
    figures: dict[str, Any] = {}
    try:
        if not await asyncio.to_thread(launched.up.wait, 240):
            print("\n".join(launched.lines[-80:]))
            raise SystemExit("vosync up did not come up within 240 s")
        nats_url, pg_url = launched.banner("NATS")[0], launched.banner("PostgreSQL")[0]
        sim_urls = launched.banner("simulator")
        procs = service_processes(launched.proc.pid)
        assert all(role in procs for role in SERVICES), sorted(procs)
        pids = {r: p.pid for r, p in procs.items()}
        log(f"up: api {launched.api_url}, {len(sim_urls)} simulated VOS, pids {pids}")
        figures = await run_soak(launched, procs, nats_url, pg_url, sim_urls, duration, warmup, failures)
    except InvariantError as exc:
        failures.append(str(exc))
    finally:
        launched.proc.send_signal(signal.SIGINT)
        try:
            launched.proc.wait(30)
        except subprocess.TimeoutExpired:
            launched.proc.kill()
        shutil.rmtree(data_dir, ignore_errors=True)
    figures["failures"] = failures
    if report_path is not None:
        report_path.write_text(json.dumps(figures, indent=2, default=str))
    for failure in failures:
        log(f"FAILED: {failure}")
    log("PASSED" if not failures else "FAILED")
    return 0 if not failures else 1


async def run_soak(
    launched: Launched,
    procs: dict[str, psutil.Process],
    nats_url: str,
    pg_url: str,
    sim_urls: list[str],
    duration: float,
    warmup: float,
    failures: list[str],
) -> dict[str, Any]:
    rss = RssSamples()
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=10) as client:
        for url in sim_urls:
            await client.post(f"{url}/_sim/changes", json={"interval_s": 5, "fraction": 0.03})
        instances = (await client.get(f"{launched.api_url}/api/v1/instances")).json()["items"]
        by_url = {item["base_url"]: item["id"] for item in instances}
        instance_urls = {by_url[url]: url for url in sim_urls}
        outage = (warmup, warmup + min(180.0, (duration - warmup) / 3))  # minutes, right after warm-up
        chaos = Chaos(sim_urls, outage)
        chaos_task = asyncio.create_task(chaos.run(client, started))
        load = ApiLoad(
            launched.api_url,
            "",
            routes_for(sorted(instance_urls)),
            workers=4,
            pause_s=0.05,
            timeout_s=API_FETCH_TIMEOUT_S + 5,
        )
        async with load:
            writer_ops, poller_ops = ops_url(procs["vosync-writer"]), ops_url(procs["vosync-poller"])
            while (elapsed := time.monotonic() - started) < duration:
                rss.sample(procs, elapsed)
                if int(elapsed) % 60 < SAMPLE_PERIOD_S:
                    log(
                        f"{elapsed / 60:.1f} min: {len(load.records)} api requests, RSS "
                        + ", ".join(
                            f"{r} {mib(p.memory_info().rss)}" for r, p in procs.items() if r in SERVICES
                        )
                    )
                await asyncio.sleep(SAMPLE_PERIOD_S)
                for role in SERVICES:
                    if not procs[role].is_running():
                        raise InvariantError(f"{role} died during the soak")
            rss.sample(procs, time.monotonic() - started)
            end = time.monotonic() - started
        await chaos.stop(client)
        chaos_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await chaos_task
        writer_metrics = parse_metrics((await client.get(f"{writer_ops}/metrics")).text)
        poller_metrics = parse_metrics((await client.get(f"{poller_ops}/metrics")).text)

    figures = summarise(load, rss, writer_metrics, poller_metrics, chaos, warmup, end, duration)
    figures["outage"] = f"{sim_urls[-1]} hung from {outage[0] / 60:.1f} to {outage[1] / 60:.1f} min"
    print_figures(figures)
    for role in SERVICES:
        growth = figures["rss"][role]["growth"]
        if growth is not None and growth > RSS_GROWTH_LIMIT:
            failures.append(f"{role} RSS grew {growth:.0%} (limit {RSS_GROWTH_LIMIT:.0%})")

    log("chaos off; waiting for the gateways of every instance to equal the simulator")
    conn = await asyncpg.connect(pg_url)
    nc = await nats.connect(nats_url)
    try:
        await wait_gateways_match(conn, instance_urls, 120)
        procs["vosync-poller"].send_signal(signal.SIGTERM)  # no more results: the stream can settle
        await exited(procs["vosync-poller"], 15)
        js = nc.jetstream()
        results = await check_results_accounted(js, conn, settle_timeout_s=180)
        events = await check_events_exactly_once(js, conn, settle_timeout_s=60)
        api = check_api_answers(load.records, max_elapsed_s=API_FETCH_TIMEOUT_S + 5)
        figures["invariants"] = {
            "results": results.summary(),
            "events": events.events,
            "gateways_with_events": events.gateways,
            "api_requests": api.requests,
        }
        log(f"invariants hold: {results.summary()}; {events.events} events on {bus.EVENTS_STREAM}")
    finally:
        await conn.close()
        await nc.close()
    return figures


async def exited(proc: psutil.Process, timeout_s: float) -> None:
    """Until the process has exited (a zombie counts: its parent, the launcher, reaps it later)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        await asyncio.sleep(0.1)
    raise InvariantError(f"pid {proc.pid} did not exit within {timeout_s:.0f} s of SIGTERM")


def summarise(
    load: ApiLoad,
    rss: RssSamples,
    writer: dict[str, float],
    poller: dict[str, float],
    chaos: Chaos,
    warmup: float,
    end: float,
    duration: float,
) -> dict[str, Any]:
    statuses = Counter(r.status for r in load.records)
    answered = sorted(r.elapsed_s * 1000 for r in load.records if r.status is not None)
    poll_outcomes: Counter[str] = Counter()
    for key, value in poller.items():
        if key.startswith("vosync_poller_polls_total{"):
            poll_outcomes[key.partition('outcome="')[2].partition('"')[0]] += int(value)
    outcomes: Counter[str] = Counter()
    for key, value in writer.items():
        if key.startswith("vosync_writer_results_total{"):
            outcomes[key.partition('outcome="')[2].partition('"')[0]] += int(value)
    window = max(SAMPLE_PERIOD_S * 3, 30.0)
    rss_figures: dict[str, dict[str, Any]] = {}
    for role in (*SERVICES, *OTHERS):
        start = rss.window(role, warmup, warmup + window)
        last = rss.window(role, end - window, end)
        growth = (last / start - 1) if start and last else None
        rss_figures[role] = {"start": start, "end": last, "growth": growth}
    total_polls = sum(poll_outcomes.values()) or 1
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "minutes": round(duration / 60, 1),
        "warmup_s": warmup,
        "results": dict(outcomes),
        "results_applied": sum(outcomes.values()),
        "events_written": int(metric_sum(writer, "vosync_writer_events_written_total")),
        "events_published": int(metric_sum(writer, "vosync_writer_events_published_total")),
        "vos_polls": dict(poll_outcomes),
        "vos_error_rate": round(1 - poll_outcomes.get("ok", 0) / total_polls, 4),
        "api_requests": len(load.records),
        "api_statuses": {str(k): v for k, v in statuses.items()},
        "api_error_rate": round(1 - statuses.get(200, 0) / max(len(load.records), 1), 4),
        "api_sources": dict(Counter(r.data_source for r in load.records if r.data_source)),
        "api_p50_ms": round(answered[len(answered) // 2], 1) if answered else None,
        "api_p99_ms": round(answered[min(len(answered) - 1, int(len(answered) * 0.99))], 1)
        if answered
        else None,
        "chaos_draws": dict(chaos.draws),
        "rss": rss_figures,
    }


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores, {cpu}, {psutil.virtual_memory().total / 1024**3:.0f} GiB RAM"


def print_figures(figures: dict[str, Any]) -> None:
    print("\n=== soak figures ===", flush=True)
    for key in (
        "date",
        "machine",
        "minutes",
        "results_applied",
        "results",
        "events_written",
        "events_published",
        "vos_polls",
        "vos_error_rate",
        "api_requests",
        "api_statuses",
        "api_error_rate",
        "api_sources",
        "api_p50_ms",
        "api_p99_ms",
        "chaos_draws",
        "outage",
    ):
        print(f"{key:>18}: {figures[key]}")
    print(f"{'RSS':>18}: {'start':>9} {'end':>9}  growth")
    for role, values in figures["rss"].items():
        growth = "-" if values["growth"] is None else f"{values['growth']:+.1%}"
        print(f"{role:>18}: {mib(values['start']):>9} {mib(values['end']):>9}  {growth}")
    print(flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.faults.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("VOSYNC_SOAK_MINUTES", 30)))
    parser.add_argument("--instances", type=int, default=20)
    parser.add_argument("--gateways", type=int, default=200)
    parser.add_argument("--report", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.minutes <= 0:
        parser.error("--minutes must be positive")
    sys.exit(asyncio.run(soak(args.minutes, args.instances, args.gateways, args.report)))


if __name__ == "__main__":
    main()
