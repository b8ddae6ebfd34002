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
    def __init__(self, name: str, script: str, env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.script = Path(sysconfig.get_path("scripts")) / script
        self.ops_port = free_port()
        # Only what is given here: a VOSYNC_ variable of the test runner must not leak in.
        base = {k: v for k, v in os.environ.items() if not k.startswith("VOSYNC_")}
        self.env = {
            **base,
            **env,
            "VOSYNC_OPS_HOST": "127.0.0.1",
            "VOSYNC_OPS_PORT": str(self.ops_port),
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
        url = f"http://127.0.0.1:{self.ops_port}/health/ready"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return bool(resp.status == 200)
        except (OSError, urllib.error.HTTPError):
            return False

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

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
