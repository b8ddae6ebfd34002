"""The operator CLI against a running `vosync up`: each command, tables and --json, and bad input
(unknown instance, bad URL, missing key) as one sentence on stderr with a non-zero exit."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_launcher import Launched, _wait_for_gateways
from vosync.deploy.processes import free_port

pytestmark = pytest.mark.slow

VOSYNC = str(Path(sys.executable).parent / "vosync")


@pytest.fixture(scope="module")
def stack() -> Iterator[Launched]:
    path = Path(tempfile.mkdtemp(prefix="vosync-cli-"))
    path.chmod(0o755)
    run = Launched(path, free_port())
    try:
        run.wait_up()
        _wait_for_gateways(run.api, run.sim_urls[0])
        yield run
    finally:
        run.stop()
        shutil.rmtree(path, ignore_errors=True)


def vosync(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("VOSYNC_")}
    return subprocess.run(
        [VOSYNC, *args], capture_output=True, text=True, timeout=60, env={**base, **(env or {})}
    )


def ok_json(*args: str) -> Any:
    done = vosync(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def one_sentence_error(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_status_shows_each_instance(stack: Launched) -> None:
    done = vosync("status", "--api", stack.api)
    assert done.returncode == 0, done.stderr
    assert "sim-1" in done.stdout and "sim-2" in done.stdout and "/120" in done.stdout  # 60 + 60 gateways
    data = ok_json("status", "--api", stack.api)
    assert {i["name"] for i in data["instances"]} == {"sim-1", "sim-2"}
    assert all(i["gateways_total"] == 120 for i in data["instances"])


def test_status_services_are_numbers(stack: Launched) -> None:
    services = ok_json("status", "--api", stack.api)["services"]
    assert services["api"] == "ok" and services["problems"] == []
    assert services["pollers"]["up"] == 1 and len(services["pollers"]["ids"]) == 1
    writers = services["writers"]
    assert writers["up"] is True
    for field in ("consumer_lag", "ack_pending", "outbox_backlog", "pulls_waiting"):
        assert isinstance(writers[field], int) and writers[field] >= 0, (field, writers)
    table = vosync("status", "--api", stack.api).stdout
    assert "CONSUMER LAG" in table and "OUTBOX BACKLOG" in table and "writers" in table


def test_instances_add_edit_list_remove(stack: Launched) -> None:
    added = ok_json(
        "instances", "add", "--api", stack.api, "--name", "cli-x", "--base-url", "http://127.0.0.1:9"
    )
    assert added["name"] == "cli-x"
    edited = ok_json(
        "instances", "edit", "--api", stack.api, "cli-x", "--description", "from the cli", "--disable"
    )
    assert edited["description"] == "from the cli" and edited["enabled"] is False
    listed = vosync("instances", "list", "--api", stack.api)
    assert "cli-x" in listed.stdout and "from the cli" in listed.stdout
    removed = vosync("instances", "remove", "--api", stack.api, "cli-x")
    assert removed.returncode == 0 and "removed instance cli-x" in removed.stdout
    names = {i["name"] for i in ok_json("instances", "list", "--api", stack.api)["items"]}
    assert "cli-x" not in names


def test_sync_prints_each_api_outcome(stack: Launched) -> None:
    data = ok_json("sync", "--api", stack.api, "sim-1", "GetGatewayMappingOnline")
    assert [r["api_name"] for r in data["results"]] == ["GetGatewayMappingOnline"]
    done = vosync("sync", "--api", stack.api, "sim-1", "GetGatewayMappingOnline")
    assert done.returncode == 0 and "GetGatewayMappingOnline" in done.stdout and "ok" in done.stdout


def test_gateways_filters_and_quiet(stack: Launched) -> None:
    every = ok_json("gateways", "--api", stack.api, "sim-1")
    assert len(every) == 120
    mapping = ok_json("gateways", "--api", stack.api, "sim-1", "--type", "mapping", "--online")
    assert mapping and all(g["gateway_type"] == "mapping" and g["is_online"] for g in mapping)
    quiet = vosync("gateways", "--api", stack.api, "sim-1", "--type", "routing", "--offline", "-q")
    names = {g["gateway_name"] for g in every if g["gateway_type"] == "routing" and not g["is_online"]}
    assert set(quiet.stdout.split("\n")) - {""} == names


def test_migrate_history_and_current(stack: Launched) -> None:
    history = ok_json("migrate", "history")
    assert history and all(h["revision"] for h in history)
    # The stack's PostgreSQL is embedded; its URL is in the banner.
    line = next(line for line in stack.lines if line.strip().startswith("PostgreSQL"))
    url = line.split()[1].replace("postgresql://", "postgresql+asyncpg://")
    done = vosync("migrate", "current", "--json", env={"VOSYNC_DATABASE_URL": url})
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout)
    assert state["current"] == state["head"] == history[0]["revision"]


def test_bad_input_is_one_sentence(stack: Launched) -> None:
    one_sentence_error(vosync("gateways", "--api", stack.api, "no-such"), "no instance named 'no-such'")
    one_sentence_error(vosync("status", "--api", "not a url"), "--api")
    one_sentence_error(vosync("status", "--api", f"http://127.0.0.1:{free_port()}"), "cannot reach the api")
    one_sentence_error(vosync("migrate", "current"), "VOSYNC_DATABASE_URL")


def test_version_and_help() -> None:
    assert vosync("--version").stdout.strip() == "vosync 0.1.0"
    for command in (["status"], ["instances", "add"], ["sync"], ["gateways"], ["migrate"], ["up"]):
        done = vosync(*command, "--help")
        assert done.returncode == 0 and done.stdout.startswith("usage: vosync"), command


def _sim_faults(base_url: str, method: str, rule: dict[str, Any] | None = None) -> None:
    body = json.dumps(rule).encode() if rule is not None else None
    request = urllib.request.Request(f"{base_url}/_sim/faults", data=body, method=method)
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.status == 200


def _wait_for_state(stack: Launched, name: str, state: str, timeout_s: float) -> dict[str, Any]:
    """The instance's status once it is in `state` by the poller's heartbeat and its failed calls
    reached the database too (the heartbeat can be ahead of the writer)."""
    deadline = time.monotonic() + timeout_s
    seen: dict[str, Any] = {}
    while time.monotonic() < deadline:
        seen = next(i for i in ok_json("status", "--api", stack.api)["instances"] if i["name"] == name)
        if seen["vos_state"] == state and set(seen["failing_apis"]) & set(ONLINE_APIS):
            return seen
        time.sleep(0.5)
    raise AssertionError(f"{name} never became {state} within {timeout_s} s; last: {seen}")


ONLINE_APIS = ("GetGatewayMappingOnline", "GetGatewayRoutingOnline")  # polled every 2 s here


def test_status_shows_a_failing_vos_then_its_backoff_then_ok(stack: Launched) -> None:
    # Last in the module: it breaks sim-2 for a while (and mends it before it ends).
    sim2 = next(i for i in ok_json("instances", "list", "--api", stack.api)["items"] if i["name"] == "sim-2")
    url = sim2["base_url"]
    before = time.time()
    try:
        for api in ONLINE_APIS:  # a retCode error: VOS answers, so no backoff
            _sim_faults(url, "POST", {"api": api, "mode": "ret_code"})
        failing = _wait_for_state(stack, "sim-2", "failing", 30)
        assert failing["state_source"] == "poller" and failing["poller_id"]
        since = datetime.fromisoformat(failing["failing_since"]).timestamp()
        assert before - 1 <= since <= time.time()
        assert "retCode" in failing["last_error"]
        table = vosync("status", "--api", stack.api).stdout
        row = next(line for line in table.splitlines() if line.startswith("sim-2"))
        assert "failing since" in row, table
        sim1_row = next(line for line in table.splitlines() if line.startswith("sim-1"))
        assert " ok " in sim1_row, table

        for api in ONLINE_APIS:  # HTTP 500 is a transport failure: three in a row start the backoff
            _sim_faults(url, "POST", {"api": api, "mode": "http_500"})
        backing_off = _wait_for_state(stack, "sim-2", "backing_off", 30)
        assert backing_off["failing_since"] == failing["failing_since"]  # the same failure run
        row = next(
            line for line in vosync("status", "--api", stack.api).stdout.splitlines() if "sim-2" in line
        )
        assert "backing off (failing since" in row, row
    finally:
        _sim_faults(url, "DELETE")
    # The backoff's next probe succeeds; the slower APIs polled during the fault are retried later,
    # so only the online ones are sure to be mended: wait for them.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        now = next(i for i in ok_json("status", "--api", stack.api)["instances"] if i["name"] == "sim-2")
        if now["vos_state"] != "backing_off" and not set(now["failing_apis"]) & set(ONLINE_APIS):
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"sim-2 did not recover: {now}")
