"""vosync services as child processes from their console scripts, configured by VOSYNC_ variables
exactly as the deploy files configure them (each with its own NATS user)."""

from __future__ import annotations

import os
import subprocess
import sysconfig
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

from vosync.deploy.processes import die_with_parent, free_port, stop_process


class ServiceProcess:
    """One service; its HTTP port (the api's, or the poller's / writer's ops port) is a free one."""

    def __init__(self, name: str, script: str, env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.script = Path(sysconfig.get_path("scripts")) / script
        self.port = free_port()
        listen = "API" if script == "vosync-api" else "OPS"
        # Only what is given here: a VOSYNC_ variable of the test runner must not leak in.
        base = {k: v for k, v in os.environ.items() if not k.startswith("VOSYNC_")}
        self.env = {
            **base,
            **env,
            f"VOSYNC_{listen}_HOST": "127.0.0.1",
            f"VOSYNC_{listen}_PORT": str(self.port),
            "VOSYNC_LOG_FORMAT": "console",
            "PYTHONUNBUFFERED": "1",
        }
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [str(self.script)],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),
        )

    def ready(self) -> bool:
        """GET /health/ready answers 200 (NATS connected, database reachable where used)."""
        url = f"{self.url}/health/ready"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return bool(resp.status == 200)
        except (OSError, urllib.error.HTTPError):
            return False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError(f"{self.name} exited while starting:\n{self.log_tail()}")
            if self.ready():
                return
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not ready after {timeout_s:.0f} s:\n{self.log_tail()}")

    def terminate(self) -> None:
        """SIGTERM without waiting (stop() then waits)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def stop_all(processes: list[ServiceProcess]) -> None:
    """SIGTERM to all first, so that they stop side by side, then wait for each."""
    for proc in processes:
        proc.terminate()
    for proc in processes:
        proc.stop()
