"""`vosync up` from the outside, as a user runs it: everything comes up, the data is right, Ctrl-C
stops every process, and a second run keeps the data."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.browser.launcher_page import check_live_page, chromium_available
from vosync.deploy.processes import free_port

pytestmark = pytest.mark.slow

VOSYNC = str(Path(sys.executable).parent / "vosync")


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        body = resp.read()
        return json.loads(body) if resp.headers.get_content_type() == "application/json" else body.decode()


def _post(url: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert resp.status == 200


class Launched:
    def __init__(self, data_dir: Path, api_port: int, *extra: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VOSYNC_")}
        env["VOSYNC_POLL_INTERVALS"] = json.dumps(
            {"GetGatewayMappingOnline": 2, "GetGatewayRoutingOnline": 2}
        )
        self.proc = subprocess.Popen(
            [
                VOSYNC,
                "up",
                "--data-dir",
                str(data_dir),
                "--api-port",
                str(api_port),
                "--sim-gateways",
                "60",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.api = f"http://127.0.0.1:{api_port}"
        self.lines: list[str] = []
        self.up = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())
            if line.startswith("Press Ctrl-C"):
                self.up.set()

    def wait_up(self, timeout_s: float = 120) -> None:
        if not self.up.wait(timeout_s):
            self.proc.kill()
            raise AssertionError("vosync up did not come up:\n" + "\n".join(self.lines[-60:]))

    @property
    def sim_urls(self) -> list[str]:
        return [line.split()[1] for line in self.lines if line.strip().startswith("simulator")]

    def stop(self) -> float:
        started = time.monotonic()
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(15)
        return time.monotonic() - started


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="vosync-up-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def _wait_for_gateways(api: str, sim_url: str, deadline_s: float = 90) -> None:
    truth = _get(f"{sim_url}/_sim/gateways")
    expected = {("mapping", g["name"]): g["online"] for g in truth["mapping"]}
    expected |= {("routing", g["name"]): g["online"] for g in truth["routing"]}
    deadline = time.monotonic() + deadline_s
    seen: dict[tuple[str, str], bool] = {}
    while time.monotonic() < deadline:
        seen = {}
        for gw_type in ("mapping", "routing"):
            page = _get(f"{api}/api/v1/instances/1/gateways?type={gw_type}&limit=1000")
            seen |= {(gw_type, item["gateway_name"]): item["is_online"] for item in page["items"]}
        if seen == expected:
            return
        time.sleep(1)
        truth = _get(f"{sim_url}/_sim/gateways")
        expected = {("mapping", g["name"]): g["online"] for g in truth["mapping"]}
        expected |= {("routing", g["name"]): g["online"] for g in truth["routing"]}
    missing = set(expected) - set(seen)
    wrong = {k for k in set(expected) & set(seen) if expected[k] != seen[k]}
    raise AssertionError(f"gateways differ from the simulator: {len(missing)} missing, {len(wrong)} wrong")


def test_vosync_up_serves_the_page_and_the_simulators_gateways_then_stops_clean(data_dir: Path) -> None:
    api_port = free_port()
    run = Launched(data_dir, api_port)
    try:
        run.wait_up()
        assert f"http://127.0.0.1:{api_port}/" in "\n".join(run.lines)
        assert len(run.sim_urls) == 2
        page = _get(run.api + "/")
        assert "<html" in page.lower()
        instances = _get(run.api + "/api/v1/instances")
        assert sorted(i["name"] for i in instances["items"]) == ["sim-1", "sim-2"]
        _wait_for_gateways(run.api, run.sim_urls[0])
        children = _descendants(run.proc.pid)
        if chromium_available():  # installed by `make test`; the page test proper is tests/browser
            _post(f"{run.sim_urls[0]}/_sim/changes", {"interval_s": 0, "fraction": 0})  # hold still
            _wait_for_gateways(run.api, run.sim_urls[0])
            truth = {g["name"]: g["online"] for g in _get(f"{run.sim_urls[0]}/_sim/gateways")["mapping"]}
            assert check_live_page(run.api, run.sim_urls[0], truth).exists()
        assert len(children) >= 5  # nats, postgres, simulator, api, writer, poller
    finally:
        took = run.stop()
    assert took < 10, f"stopping took {took:.1f} s"
    time.sleep(0.5)
    alive = [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"left behind: {[p.name() for p in alive]}"

    again = Launched(data_dir, api_port)
    try:
        again.wait_up()
        instances = _get(again.api + "/api/v1/instances")
        assert sorted(i["name"] for i in instances["items"]) == ["sim-1", "sim-2"]
        page = _get(again.api + "/api/v1/instances/1/gateways?limit=1")
        assert page["total"] > 0  # kept from the first run before any new poll
    finally:
        again.stop()


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="Debian's prometheus is not installed")
def test_vosync_up_with_monitoring_scrapes_every_service_with_the_alert_rules(data_dir: Path) -> None:
    run = Launched(data_dir, free_port(), "--monitoring")
    try:
        run.wait_up()
        (prometheus,) = [line.split()[1] for line in run.lines if line.strip().startswith("Prometheus")]
        deadline = time.monotonic() + 60
        health: dict[str, str] = {}
        while time.monotonic() < deadline:
            targets = _get(f"{prometheus}/api/v1/targets")["data"]["activeTargets"]
            health = {t["labels"]["job"]: t["health"] for t in targets}
            if health == {"vosync-api": "up", "vosync-writer": "up", "vosync-poller": "up"}:
                break
            time.sleep(1)
        assert health == {"vosync-api": "up", "vosync-writer": "up", "vosync-poller": "up"}
        rules = _get(f"{prometheus}/api/v1/rules")["data"]["groups"]
        assert {r["name"] for g in rules for r in g["rules"]} >= {"VosyncVosFailing", "VosyncServiceDown"}
    finally:
        assert run.stop() < 10
    assert run.proc.returncode == 0
