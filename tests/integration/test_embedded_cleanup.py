"""A SIGKILLed owner (test run, launcher) must not leave nats-server or postgres behind."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

SCRIPT = """
import sys, time
from pathlib import Path
from vosync.deploy.embedded import EmbeddedNats, EmbeddedPostgres
d = Path(sys.argv[1])
n = EmbeddedNats(d / "nats"); n.start()
p = EmbeddedPostgres(d / "pg", durable=False); p.start()
print(n.proc.pid, p.proc.pid, flush=True)
time.sleep(600)
"""


def _running(pid: int) -> bool:
    """Alive and not a zombie; a process that exits while being looked at is gone."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_sigkill_of_the_owner_leaves_no_server_behind() -> None:
    data = Path(tempfile.mkdtemp(prefix="vosync-kill-"))
    data.chmod(0o755)
    owner = subprocess.Popen([sys.executable, "-c", SCRIPT, str(data)], stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    line = owner.stdout.readline()
    nats_pid, pg_pid = (int(x) for x in line.split())
    assert psutil.pid_exists(nats_pid) and psutil.pid_exists(pg_pid)
    pg_children = [c.pid for c in psutil.Process(pg_pid).children(recursive=True)]

    os.kill(owner.pid, signal.SIGKILL)
    owner.wait(5)

    deadline = time.monotonic() + 15
    alive = [nats_pid, pg_pid, *pg_children]
    while time.monotonic() < deadline:
        alive = [pid for pid in alive if _running(pid)]
        if not alive:
            break
        time.sleep(0.1)
    assert not alive, f"left behind: {alive}"
