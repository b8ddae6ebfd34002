"""vosync services as real child processes of the test, started from their console scripts.

Each `ServiceProc` keeps its HTTP port across restarts (the api's port, or the poller's / writer's ops
port), so clients and readiness probes keep their address when a killed service comes back.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sysconfig
import time
from pathlib import Path
from typing import IO

import httpx

from vosync.deploy.processes import die_with_parent, free_port

SCRIPTS = Path(sysconfig.get_path("scripts"))


def script_path(name: str) -> Path:
    path = SCRIPTS / name
    if not path.exists():
        raise FileNotFoundError(f"{name} is not installed in {SCRIPTS}")
    return path


def clean_environ() -> dict[str, str]:
    """The runner's environment without any VOSYNC_ variable (they must not leak into a service)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("VOSYNC_")}


class ServiceProc:
    """One service process. `start()`, `await wait_ready()`, `kill()` (SIGKILL), `await stop()`."""

    def __init__(self, name: str, script: str, env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.script = script_path(script)
        self.port = free_port()
        listen = "API" if script == "vosync-api" else "OPS"
        self.env = {
            **clean_environ(),
            **env,
            f"VOSYNC_{listen}_HOST": "127.0.0.1",
            f"VOSYNC_{listen}_PORT": str(self.port),
            "VOSYNC_LOG_FORMAT": "console",
            "PYTHONUNBUFFERED": "1",
        }
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        assert not self.alive(), f"{self.name} is already running"
        self._close_log()
        self._log = self.log_path.open("ab")
        self._log.write(f"\n===== start {self.starts + 1} of {self.name} =====\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(
            [str(self.script)],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )
        self.starts += 1

    async def ready(self) -> bool:
        """GET /health/ready answers 200 (NATS connected, the database reachable where used)."""
        try:
            async with httpx.AsyncClient(timeout=2.0) as client:
                return (await client.get(f"{self.url}/health/ready")).status_code == 200
        except httpx.HTTPError:
            return False

    async def wait_ready(self, timeout_s: float = 60.0) -> float:
        """Until GET /health/ready answers 200; returns the seconds it took."""
        started = time.monotonic()
        while True:
            if not self.alive():
                raise AssertionError(f"{self.name} exited while starting:\n{self.log_tail()}")
            if await self.ready():
                return time.monotonic() - started
            if time.monotonic() - started > timeout_s:
                raise AssertionError(f"{self.name} not ready after {timeout_s:.0f} s:\n{self.log_tail()}")
            await asyncio.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (no lease release, no flush, no ack of the batch in hand)."""
        assert self.proc is not None and self.alive(), f"{self.name} is not running"
        self.proc.kill()
        self.proc.wait(10)

    def terminate(self) -> None:
        """SIGTERM without waiting (stop() then waits)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()

    async def stop(self, timeout_s: float = 10.0) -> int | None:
        """SIGTERM and wait (SIGKILL after the deadline); the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            deadline = time.monotonic() + timeout_s
            while self.proc.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(5)
        self._close_log()
        return self.proc.returncode

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    async def metrics(self) -> dict[str, float]:
        """The Prometheus samples of /metrics as {'name{labels}': value}."""
        async with httpx.AsyncClient(timeout=5.0) as client:
            text = (await client.get(f"{self.url}/metrics")).text
        return parse_metrics(text)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:]) or "(no log)"


async def stop_all(processes: list[ServiceProc]) -> None:
    """SIGTERM to all first, so that they stop side by side, then wait for each."""
    for proc in processes:
        proc.terminate()
    for proc in processes:
        await proc.stop()


def parse_metrics(text: str) -> dict[str, float]:
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            samples[name] = float(value)
        except ValueError:
            continue
    return samples


def metric_sum(samples: dict[str, float], name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include `labels`."""
    total = 0.0
    for key, value in samples.items():
        base, _, rest = key.partition("{")
        if base != name:
            continue
        if all(f'{label}="{wanted}"' in rest for label, wanted in labels.items()):
            total += value
    return total
