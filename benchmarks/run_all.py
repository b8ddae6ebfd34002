"""`make bench`: every benchmark in turn, each in its own process, then the README table.

Each benchmark runs as `python -m benchmarks.<name>` so that services, memory and event loops do not
leak from one into the next; each records its figures into results.json. A benchmark that fails or
overruns its time is reported as such and the others still run. The whole run stays within 15 min.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import RESULTS, machine, record
from benchmarks.report import peak_rss, write_readme

TOTAL_BUDGET_S = 14 * 60.0
# (module, time limit in seconds); benchmark 2 is the writer engineer's module.
BENCHMARKS: list[tuple[str, float]] = [
    ("cached_reads", 240),
    ("writer_ingest", 180),
    ("stampede", 150),
    ("freshness", 180),
    ("poller_scale", 330),
    ("history", 300),
]


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    if os.geteuid() != 0:
        raise SystemExit("wrk is not installed and we are not root: run `sudo apt-get install -y wrk`")
    print("installing wrk (apt-get) ...", flush=True)
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True, capture_output=True)
        subprocess.run(install, env=env, check=True, capture_output=True)


def run(module: str, limit_s: float) -> str:
    """Run one benchmark; its status line for the table."""
    if not (RESULTS.parent / f"{module}.py").exists():
        return "not run: module missing"
    print(f"\n== {module} (limit {limit_s:.0f} s)", flush=True)
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", f"benchmarks.{module}"], start_new_session=True)
    try:
        code = proc.wait(limit_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 15)  # its own session: the benchmark and the services it started
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        return f"overran its {limit_s:.0f} s limit"
    elapsed = time.monotonic() - started
    return f"ok in {elapsed:.0f} s" if code == 0 else f"failed (exit {code}) after {elapsed:.0f} s"


def _commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=RESULTS.parent
    )
    return out.stdout.strip() or "unknown"


def main() -> None:
    ensure_wrk()
    wanted = sys.argv[1:] or [name for name, _ in BENCHMARKS]
    if not sys.argv[1:]:
        RESULTS.unlink(missing_ok=True)  # a full run starts clean: no figure survives from an old run
    print(f"vosync benchmarks on {machine()}", flush=True)
    started = time.monotonic()
    load_at_start = Path("/proc/loadavg").read_text().split()[0]  # the machine is shared: say how busy
    deadline = started + TOTAL_BUDGET_S
    status: dict[str, str] = json.loads(RESULTS.read_text()).get("_status", {}) if RESULTS.exists() else {}
    for name, limit_s in BENCHMARKS:
        if name not in wanted:
            continue
        remaining = deadline - time.monotonic()
        status[name] = run(name, min(limit_s, remaining)) if remaining > 30 else "not run: out of time"
        print(f"== {name}: {status[name]}", flush=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    record({**peak_rss(results)})
    results = json.loads(RESULTS.read_text())
    results["_status"] = status
    results["_run"] = {
        "commit": _commit(),
        "load_average_at_start": float(load_at_start),
        "elapsed_s": round(time.monotonic() - started),
    }
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    write_readme(results)
    print(f"\nresults: {RESULTS}\ntable:   {RESULTS.parent / 'README.md'}", flush=True)


if __name__ == "__main__":
    main()
