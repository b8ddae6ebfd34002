"""What every benchmark shares: figures into results.json, the machine, embedded servers, wrk."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from vosync.deploy.embedded import EmbeddedNats, EmbeddedPostgres

HERE = Path(__file__).parent
RESULTS = HERE / "results.json"


def record(figures: dict[str, float | int | str]) -> None:
    """Merge figures into results.json (one object, figure name → value) and print them."""
    current = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    current.update(figures)
    current["_machine"] = machine()
    current["_date"] = datetime.now(UTC).date().isoformat()
    RESULTS.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    for name, value in figures.items():
        print(f"  {name:44} {value}")


def machine() -> str:
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return f"{os.cpu_count()} cores ({cpu}), {mem_kb / 1024**2:.0f} GiB, Python {platform.python_version()}"


@contextlib.contextmanager
def embedded_servers(durable: bool = True) -> Iterator[tuple[str, str]]:
    """NATS and PostgreSQL for one benchmark run, or the servers named by VOSYNC_BENCH_* variables."""
    nats_url = os.environ.get("VOSYNC_BENCH_NATS_URL")
    db_url = os.environ.get("VOSYNC_BENCH_DATABASE_URL")
    work = Path(tempfile.mkdtemp(prefix="vosync-bench-"))
    work.chmod(0o755)
    with contextlib.ExitStack() as stack:
        if not nats_url:
            nats_url = stack.enter_context(EmbeddedNats(work / "nats")).url
        if not db_url:
            db_url = stack.enter_context(EmbeddedPostgres(work / "pg", durable=durable)).url()
        try:
            yield nats_url, db_url
        finally:
            stack.close()
            shutil.rmtree(work, ignore_errors=True)


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int

    @classmethod
    def combine(cls, runs: list[WrkResult]) -> WrkResult:
        """Alternating runs of two targets, merged: mean req/s and p50, the worst p99, all errors."""
        return cls(
            sum(r.requests_per_s for r in runs) / len(runs),
            sum(r.p50_ms for r in runs) / len(runs),
            max(r.p99_ms for r in runs),
            sum(r.errors for r in runs),
        )

    def figures(self, prefix: str) -> dict[str, float | int | str]:
        return {
            f"{prefix}_rps": round(self.requests_per_s, 1),
            f"{prefix}_p50_ms": round(self.p50_ms, 2),
            f"{prefix}_p99_ms": round(self.p99_ms, 2),
            f"{prefix}_errors": self.errors,
        }


def percentile(values: list[float], pct: float) -> float:
    """The pct-th percentile by linear interpolation between the nearest ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def wrk(
    url: str,
    *,
    method: str = "GET",
    body: str | None = None,
    connections: int = 50,
    duration_s: int = 10,
    threads: int = 2,
    warmup_s: int = 2,
    timeout_s: int = 10,
    headers: dict[str, str] | None = None,
) -> WrkResult:
    """Load one URL from loopback with wrk (Debian package) and read req/s and latency percentiles.

    wrk leaves requests slower than its timeout out of the latency figures (counting them as errors),
    so the timeout is far above any latency we expect: slow answers stay in the p99."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk")
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".lua", delete=False) as script:
        script.write(f'wrk.method = "{method}"\n')
        if body is not None:
            if "]==]" in body:
                raise ValueError("the body cannot go into a Lua long string")
            script.write(f"wrk.body = [==[{body}]==]\n")  # raw UTF-8: LuaJIT knows no \\u escapes
            script.write('wrk.headers["Content-Type"] = "application/json"\n')
        for name, value in (headers or {}).items():
            script.write(f'wrk.headers["{name}"] = "{value}"\n')
    base = ["wrk", "-t", str(threads), "-c", str(connections), "-s", script.name]
    base += ["--latency", "--timeout", f"{timeout_s}s"]
    try:
        if warmup_s > 0:
            subprocess.run([*base, "-d", f"{warmup_s}s", url], capture_output=True, check=True, timeout=60)
        out = subprocess.run(
            [*base, "-d", f"{duration_s}s", url],
            capture_output=True,
            text=True,
            check=True,
            timeout=duration_s + 60,
        ).stdout
    finally:
        os.unlink(script.name)
    rps = float(_find(r"Requests/sec:\s+([\d.]+)", out))
    p50 = _ms(_find(r"\s50%\s+(\S+)", out))
    p99 = _ms(_find(r"\s99%\s+(\S+)", out))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return WrkResult(rps, p50, p99, errors + (int(non2xx.group(1)) if non2xx else 0))


def _find(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"wrk output has no {pattern!r}:\n{text}")
    return match.group(1)
