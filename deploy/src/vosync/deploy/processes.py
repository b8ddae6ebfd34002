"""Child processes that die with their parent, ports that do not collide with the machine's servers."""

from __future__ import annotations

import ctypes
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable

# Ports that this machine's own servers (and common defaults) use; never handed out.
RESERVED_PORTS = frozenset({4222, 5432, 6222, 8222, 6379, 5672, 1883, 3306, 8000})

_PR_SET_PDEATHSIG = 1


# Listening ports are drawn below the kernel's ephemeral range (32768–60999 by default), so a port we
# hand out and later re-bind (a restarted service) cannot be taken meanwhile by some outgoing
# connection's local port.
_LISTEN_RANGE = range(20_000, 32_000)


def free_port(host: str = "127.0.0.1") -> int:
    for _ in range(200):
        port = random.choice(_LISTEN_RANGE)
        if port in RESERVED_PORTS:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        return port
    raise OSError(f"no free port in {_LISTEN_RANGE.start}-{_LISTEN_RANGE.stop - 1} on {host}")


def port_is_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """preexec_fn: the kernel signals the child when the process that started it dies (even by SIGKILL)."""
    parent = os.getpid()

    def _preexec() -> None:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return _preexec


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout_s: float = 8.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def wait_until(check: Callable[[], bool], timeout_s: float, what: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout_s
    delay = 0.02
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} while starting")
        if check():
            return
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)
    raise TimeoutError(f"{what} not ready after {timeout_s:.0f} s")
