"""The launcher's service processes: started with their own environment, logs prefixed, stopped as a group."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import IO

from vosync.deploy.processes import die_with_parent

COLOURS = ("36", "35", "33", "32", "34", "31")


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    ready_url: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    colour: str = COLOURS[0]
    _pump: threading.Thread | None = field(default=None, repr=False)

    def start(self, colour: str | None = None) -> None:
        """Start (or, after it exited, start again with the same argv and environment)."""
        self.colour = colour or self.colour
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),
        )
        assert self.proc.stdout is not None
        self._pump = threading.Thread(
            target=_pump_lines, args=(self.name, self.colour, self.proc.stdout), daemon=True
        )
        self._pump.start()

    def wait_ready(self, deadline: float) -> None:
        """Poll the child's readiness URL (no connection error spam) until it answers 200."""
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with code {self.proc.returncode} while starting")
            if self.ready_url is None or _answers_ok(self.ready_url):
                return
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready after start-up deadline ({self.ready_url})")

    def returncode(self) -> int | None:
        """None while it runs; its exit code (negative: the signal) once it has exited."""
        return self.proc.poll() if self.proc is not None else None

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()

    def wait_or_kill(self, deadline: float) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(2)
        if self._pump is not None:
            self._pump.join(1)


def _answers_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 (loopback URLs we built)
            return bool(resp.status == 200)
    except OSError:
        return False


_print_lock = threading.Lock()


def _pump_lines(name: str, colour: str, stream: IO[bytes]) -> None:
    prefix = f"\x1b[{colour}m{name:>9} |\x1b[0m " if sys.stdout.isatty() else f"{name:>9} | "
    for raw in iter(stream.readline, b""):
        line = raw.decode(errors="replace").rstrip()
        with _print_lock:
            print(prefix + line, flush=True)


def stop_all(children: list[Child], timeout_s: float) -> None:
    """SIGTERM everyone at once, then wait; whoever outlives the deadline is killed."""
    for child in reversed(children):
        child.terminate()
    deadline = time.monotonic() + timeout_s
    for child in reversed(children):
        child.wait_or_kill(deadline)
