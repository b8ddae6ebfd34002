"""The system under test as child processes: simulator, api, writer, poller, with their peak RSS.

Services run through their console scripts (as in production), each with its own log file under
benchmarks/.work/<benchmark>/, and a sampler thread reads every child's RSS every 50 ms so that each
benchmark can report the peak of each service.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sysconfig
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.common import HERE, embedded_servers
from vosync.deploy.processes import die_with_parent, free_port, stop_process
from vosync.shared.db.migrate import upgrade

WORK = HERE / ".work"
SCRIPTS = Path(sysconfig.get_path("scripts"))
READY_TIMEOUT_S = 60.0


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def http_json(method: str, url: str, body: Any = None, timeout_s: float = 30.0) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as resp:
        return json.loads(resp.read() or b"null")


def scrape(ops_url: str, timeout_s: float = 5.0, attempts: int = 1) -> dict[str, float]:
    """The samples of a service's Prometheus /metrics: `name{label=value,...}` → value."""
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(f"{ops_url}/metrics", timeout=timeout_s) as resp:
                text = resp.read().decode()
            break
        except OSError:
            if attempt == attempts - 1:
                raise
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


def wait_for(check: Any, timeout_s: float, what: str, interval_s: float = 0.1) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval_s)
    raise TimeoutError(f"{what}: not within {timeout_s:.0f} s")


async def wait_for_async(check: Any, timeout_s: float, what: str, interval_s: float = 0.1) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(interval_s)
    raise TimeoutError(f"{what}: not within {timeout_s:.0f} s")


@dataclass
class Child:
    """One child process, its log, and the peak RSS the sampler saw."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    peak_rss: int = 0
    ps: psutil.Process | None = field(default=None, repr=False)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent(),
            )
        self.ps = psutil.Process(self.proc.pid)

    def wait_ready(self, url: str, timeout_s: float = READY_TIMEOUT_S) -> None:
        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            return http_ok(url)

        wait_for(ready, timeout_s, f"{self.name} ready at {url}", 0.1)

    def sample(self) -> None:
        if self.ps is None:
            return
        with contextlib.suppress(psutil.Error):
            self.peak_rss = max(self.peak_rss, self.ps.memory_info().rss)

    def cpu_seconds(self) -> float:
        assert self.ps is not None
        times = self.ps.cpu_times()
        return float(times.user + times.system)

    @property
    def peak_rss_mb(self) -> float:
        return round(self.peak_rss / 1024**2, 1)

    def stop(self) -> None:
        if self.proc is not None:
            self.sample()
            stop_process(self.proc, timeout_s=10)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class RssSampler(threading.Thread):
    """Reads the RSS of every registered child every `interval_s`, keeping each one's peak."""

    def __init__(self, interval_s: float = 0.05) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.interval_s = interval_s
        self.children: list[Child] = []
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.interval_s):
            for child in list(self.children):
                child.sample()

    def stop(self) -> None:
        self._done.set()
        self.join(2)


@dataclass
class Stack:
    """NATS + PostgreSQL + the children of one benchmark."""

    name: str
    nats_url: str
    database_url: str
    sampler: RssSampler
    children: dict[str, Child] = field(default_factory=dict)
    sim_urls: list[str] = field(default_factory=list)
    api_url: str = ""
    ops_urls: dict[str, str] = field(default_factory=dict)

    @property
    def work(self) -> Path:
        return WORK / self.name

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VOSYNC_")}
        env.update(
            {
                "VOSYNC_NATS_URL": self.nats_url,
                "VOSYNC_DATABASE_URL": self.database_url,
                "VOSYNC_LOG_FORMAT": "json",
                "VOSYNC_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(extra)
        return env

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        child = Child(name, argv, env, self.work / f"{name}.log")
        child.start()
        self.children[name] = child
        self.sampler.children.append(child)
        return child

    def start_sim(self, *, instances: int, gateways: int, timeout_s: float = 120.0) -> list[str]:
        """`vos-sim` on free ports with drift off; its stdout names one URL per instance."""
        argv = [
            str(SCRIPTS / "vos-sim"),
            *("--port", "0", "--instances", str(instances), "--gateways", str(gateways)),
            *("--seed", "1", "--change-interval", "0", "--log-level", "WARNING"),
        ]
        child = self.spawn("vos-sim", argv, self.env())

        def urls() -> list[str]:
            text = child.log_path.read_text(errors="replace")
            return [line.split()[-1] for line in text.splitlines() if line.startswith("vos-sim instance")]

        def ready() -> bool:
            if child.proc is not None and child.proc.poll() is not None:
                raise RuntimeError(f"vos-sim exited:\n{child.log_tail()}")
            return len(urls()) >= instances

        wait_for(ready, timeout_s, "vos-sim", 0.2)
        self.sim_urls = urls()[:instances]
        return self.sim_urls

    def start_api(self, **extra: str) -> str:
        port = free_port()
        env = self.env(VOSYNC_API_HOST="127.0.0.1", VOSYNC_API_PORT=str(port), VOSYNC_AUTH="off", **extra)
        child = self.spawn("api", [str(SCRIPTS / "vosync-api")], env)
        self.api_url = f"http://127.0.0.1:{port}"
        child.wait_ready(f"{self.api_url}/health/ready")
        return self.api_url

    def start_ops_service(self, name: str, script: str, extra: dict[str, str], wait: bool = True) -> str:
        """Poller or writer with its ops port; waits for /health/ready unless told not to."""
        port = free_port()
        env = self.env(VOSYNC_OPS_PORT=str(port), **extra)
        child = self.spawn(name, [str(SCRIPTS / script)], env)
        self.ops_urls[name] = url = f"http://127.0.0.1:{port}"
        if wait:
            child.wait_ready(f"{url}/health/ready")
        return url

    def start_writer(self, **extra: str) -> str:
        return self.start_ops_service("writer", "vosync-writer", extra)

    def start_poller(self, wait: bool = True, **extra: str) -> str:
        return self.start_ops_service(
            "poller", "vosync-poller", {"VOSYNC_POLLER_ID": "bench-poller", **extra}, wait
        )

    def add_instance(self, name: str, base_url: str) -> int:
        """Through the api (the real path: table row + KV mirror for the pollers)."""
        created = http_json("POST", f"{self.api_url}/api/v1/instances", {"name": name, "base_url": base_url})
        return int(created["id"])

    def start_with_one_instance(
        self,
        *,
        gateways: int,
        api: dict[str, str] | None = None,
        writer: dict[str, str] | None = None,
        poller: dict[str, str] | None = None,
    ) -> tuple[str, int]:
        """vos-sim with one instance, then api, writer and poller; the instance registered as bench-1.

        Returns the instance's simulator URL and its id; `api`, `writer`, `poller`: extra environment.
        """
        (sim_url,) = self.start_sim(instances=1, gateways=gateways)
        self.start_api(**(api or {}))
        self.start_writer(**(writer or {}))
        self.start_poller(True, **(poller or {}))
        return sim_url, self.add_instance("bench-1", sim_url)

    def peak_rss_mb(self, service: str) -> float:
        return self.children[service].peak_rss_mb

    def rss_figures(
        self, prefix: str, services: tuple[str, ...] = ("api", "poller", "writer")
    ) -> dict[str, float]:
        return {
            f"{prefix}_{svc}_peak_rss_mb": self.peak_rss_mb(svc) for svc in services if svc in self.children
        }

    def stop_child(self, name: str) -> None:
        self.children[name].stop()


@contextlib.contextmanager
def stack(name: str) -> Iterator[Stack]:
    """Servers (migrated) and a sampler; every child started through the Stack is stopped at the end."""
    sampler = RssSampler()
    sampler.start()
    with embedded_servers() as (nats_url, database_url):
        asyncio.run(upgrade(database_url))
        s = Stack(name, nats_url, database_url, sampler)
        try:
            yield s
        except BaseException:
            for child in s.children.values():
                print(f"--- {child.name} log tail ---\n{child.log_tail()}", flush=True)
            raise
        finally:
            for child in reversed(list(s.children.values())):
                child.stop()
            sampler.stop()


def plain_pg_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")
