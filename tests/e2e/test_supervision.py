"""`vosync up` heals itself: each child SIGKILLed in turn comes back within 30 s and the data keeps
flowing; a child that keeps dying stops the whole stack with one sentence and leaves nothing behind."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import asyncpg
import nats
import psutil
import pytest

from tests.e2e.test_launcher import Launched, _descendants, _get, _post, _wait_for_gateways, data_dir
from tests.faults.invariants import check_events_exactly_once
from vosync.deploy.processes import free_port

pytestmark = pytest.mark.slow
__all__ = ["data_dir"]  # the fixture, re-used

RECOVER_S = 30.0


def _find(launcher_pid: int, what: str) -> psutil.Process:
    """The launcher's child that `what` names: a console script, nats-server, or the postmaster."""
    for proc in _descendants(launcher_pid):
        try:
            cmdline = " ".join(proc.cmdline())
            if what == "postgres":
                if proc.name() == "postgres" and proc.ppid() == launcher_pid:
                    return proc
            elif what in cmdline:
                return proc
        except psutil.NoSuchProcess:
            continue
    raise AssertionError(f"no running {what} under the launcher")


def _banner_url(run: Launched, label: str) -> str:
    return next(line.split()[1] for line in run.lines if line.strip().startswith(label))


async def _check_events(run: Launched) -> None:
    nc = await nats.connect(_banner_url(run, "NATS"))
    conn = await asyncpg.connect(_banner_url(run, "PostgreSQL"))
    try:
        await check_events_exactly_once(nc.jetstream(), conn)
    finally:
        await conn.close()
        await nc.close()


def _ready(api: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api}/health/ready", timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def _flip(sim_url: str, name: str, online: bool) -> None:
    request = urllib.request.Request(
        f"{sim_url}/_sim/gateways/mapping/{urllib.parse.quote(name)}/online",
        data=json.dumps({"online": online}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert resp.status == 200


def _api_online(api: str, name: str) -> bool | None:
    try:
        page: Any = _get(f"{api}/api/v1/instances/1/gateways?type=mapping&limit=1000")
    except OSError:
        return None
    return next((g["is_online"] for g in page["items"] if g["gateway_name"] == name), None)


def test_each_child_killed_in_turn_comes_back_and_flips_still_show(data_dir: Path) -> None:
    run = Launched(data_dir, free_port())
    try:
        run.wait_up()
        sim1, _sim2 = run.sim_urls
        # sim-1 holds still so the flips below are the only changes there; sim-2 keeps flipping.
        _post(f"{sim1}/_sim/changes", {"interval_s": 0, "fraction": 0})
        _wait_for_gateways(run.api, sim1)
        name = _get(f"{sim1}/_sim/gateways")["mapping"][0]["name"]
        for victim, label in [
            ("vosync-writer", "writer-1"),
            ("vosync-poller", "poller-1"),
            ("vosync-api", "api"),
            ("nats-server", "nats"),
            ("postgres", "postgres"),
        ]:
            online = not next(
                g["online"] for g in _get(f"{sim1}/_sim/gateways")["mapping"] if g["name"] == name
            )
            _find(run.proc.pid, victim).send_signal(signal.SIGKILL)
            killed = time.monotonic()
            _flip(sim1, name, online)
            while time.monotonic() - killed < RECOVER_S:
                if _ready(run.api) and _api_online(run.api, name) is online:
                    break
                time.sleep(0.5)
            else:
                tail = "\n".join(run.lines[-40:])
                raise AssertionError(
                    f"after SIGKILL of {victim} the flip did not show in {RECOVER_S} s:\n{tail}"
                )
            log = "\n".join(run.lines)
            assert re.search(rf"{label} was killed by SIGKILL; restarting it in \d+ s \(restart 1\)", log), (
                log[-3000:]
            )
        # I2: both instances converge on the simulator's truth once sim-2 holds still too;
        # I3: every transition the writer recorded was published exactly once, in order.
        _post(f"{_sim2}/_sim/changes", {"interval_s": 0, "fraction": 0})
        _wait_for_gateways(run.api, sim1)
        asyncio.run(_check_events(run))
        assert run.proc.poll() is None
    finally:
        took = run.stop()
    assert took < 10, f"stopping took {took:.1f} s"


def test_a_child_that_keeps_dying_stops_the_stack_with_one_sentence(data_dir: Path) -> None:
    run = Launched(data_dir, free_port())
    seen: dict[int, psutil.Process] = {}
    try:
        run.wait_up()
        deadline = time.monotonic() + 90
        while run.proc.poll() is None and time.monotonic() < deadline:
            for proc in _descendants(run.proc.pid):
                seen[proc.pid] = proc
            with contextlib.suppress(AssertionError, psutil.NoSuchProcess):  # between death and restart
                _find(run.proc.pid, "vosync-writer").send_signal(signal.SIGKILL)
            time.sleep(0.2)
        run.proc.wait(15)
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
    assert run.proc.returncode == 1
    time.sleep(1)  # the reader thread has the last lines
    errors = [line for line in run.lines if line.startswith("error:")]
    assert errors == [
        "error: writer-1 was killed by SIGKILL 5 times within 60 s, so vosync is stopping "
        "instead of restarting it again."
    ], run.lines[-30:]
    alive = [p for p in seen.values() if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"left behind: {[p.name() for p in alive]}"
