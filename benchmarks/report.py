"""The results table of benchmarks/README.md, from results.json: figures, goals, pass or short.

python -m benchmarks.report     # rewrite the table from the current results.json
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import HERE, RESULTS

README = HERE / "README.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"

# Peak RSS of each service is the largest any of benchmarks 1–3 saw (each records its own).
RSS_SOURCES = ("cached_reads", "writer_ingest", "stampede")


@dataclass(frozen=True)
class Goal:
    """A goal as the table states it, and the test a measured value passes it by."""

    text: str
    passes: Callable[[float], bool]


# The goal's text is kept apart from its limit: a few goals read "< 1 s" but pass at the limit too.
def at_most(limit: float, text: str) -> Goal:
    return Goal(text, lambda value: operator.le(value, limit))


def at_least(limit: float, text: str) -> Goal:
    return Goal(text, lambda value: operator.ge(value, limit))


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str = ""
    goal: Goal | None = None


SECTIONS: list[tuple[str, str, list[Figure]]] = [
    (
        "1 cached reads",
        "cached_reads",
        [
            Figure("api_cached_read_rps", "api: POST …/GetGatewayMapping (fresh row)", "req/s"),
            Figure("api_cached_read_p50_ms", "  p50", "ms"),
            Figure("api_cached_read_p99_ms", "  p99", "ms", at_most(20, "≤ 20 ms")),
            Figure("baseline_static_rps", "baseline: same bytes from memory", "req/s"),
            Figure("baseline_static_p50_ms", "  p50", "ms"),
            Figure("baseline_static_p99_ms", "  p99", "ms"),
            Figure("baseline_pk_rps", "baseline: one asyncpg select by primary key", "req/s"),
            Figure("baseline_pk_p50_ms", "  p50", "ms"),
            Figure("baseline_pk_p99_ms", "  p99", "ms"),
            Figure("api_cached_read_vs_static_ratio", "api ÷ in-memory route", "×", at_least(0.7, "≥ 0.7")),
            Figure("api_cached_read_vs_pk_select_ratio", "api ÷ primary-key select route", "×"),
            Figure("api_gateways_page_rps", "api: GET …/gateways?limit=100", "req/s"),
            Figure("api_gateways_page_p50_ms", "  p50", "ms"),
            Figure("api_gateways_page_p99_ms", "  p99", "ms"),
            Figure("baseline_gateways_static_rps", "baseline: the page's bytes from memory", "req/s"),
            Figure(
                "api_gateways_page_vs_static_ratio",
                "gateway page ÷ in-memory route",
                "×",
                at_least(0.7, "≥ 0.7"),
            ),
            Figure("api_gateways_page_kb", "  page size (100 gateways)", "KiB"),
            Figure("api_cached_read_gzip_rps", "api: the same read, Accept-Encoding: gzip", "req/s"),
            Figure("api_cached_read_gzip_p99_ms", "  p99", "ms"),
            Figure("baseline_static_gzip_rps", "baseline: the same gzip bytes from memory", "req/s"),
            Figure(
                "api_cached_read_gzip_vs_static_ratio",
                "gzip read ÷ in-memory gzip route",
                "×",
                at_least(0.7, "≥ 0.7"),
            ),
            Figure(
                "cached_read_gzip_vs_plain_bytes_ratio",
                "  gzip reply ÷ plain reply",
                "×",
                at_most(0.2, "≤ 0.2"),
            ),
            Figure("cached_read_reply_kb", "reply size (1,000 gateways)", "KiB"),
            Figure("api_cached_read_small_rps", "api: the same route, 10 named gateways", "req/s"),
            Figure("api_cached_read_small_p50_ms", "  p50", "ms"),
            Figure("api_cached_read_small_p99_ms", "  p99", "ms"),
            Figure("cached_read_small_reply_kb", "  reply size", "KiB"),
        ],
    ),
    (
        "2 writer ingest",
        "writer_ingest",
        [
            Figure("writer_snapshot_10k_s", "10,000-gateway snapshot, publish → commit", "s"),
            Figure(
                "writer_jsonb_floor_s",
                "  floor: PostgreSQL parsing the 26.8 MB config reply as jsonb, nothing stored",
                "s",
            ),
            Figure(
                "writer_contract_floor_s",
                "  contract floor: PostgreSQL alone storing both replies and one row per gateway, in SQL",
                "s",
            ),
            Figure("writer_snapshot_vs_floor_ratio", "snapshot ÷ jsonb floor", "×", at_most(2.0, "≤ 2.0")),
            Figure("writer_contract_floor_vs_floor_ratio", "  contract floor ÷ jsonb floor", "×"),
            Figure("writer_snapshot_vs_contract_floor_ratio", "snapshot ÷ contract floor", "×"),
            Figure("writer_per_row_10k_s", "per-row ORM way, same data", "s"),
            Figure("writer_vs_per_row_ratio", "writer ÷ per-row ORM way", "×", at_least(20, "≥ 20")),
        ],
    ),
    (
        "3 stampede",
        "stampede",
        [
            Figure("stampede_vos_calls", "VOS calls for 500 readers of one expired key", "", at_most(1, "1")),
            Figure("stampede_first_reply_ms", "  first reader answered", "ms"),
            Figure("stampede_p50_ms", "  readers p50", "ms"),
            Figure("stampede_p99_ms", "  readers p99", "ms"),
            Figure(
                "stampede_swr_vos_calls",
                "VOS calls for 500 readers inside the stale-while-revalidate window",
                "",
                at_most(1, "1"),
            ),
            Figure("stampede_swr_p50_ms", "  readers p50", "ms"),
            Figure("stampede_swr_p99_ms", "  readers p99", "ms"),
            Figure("stampede_fresh_p50_ms", "500 readers of a fresh key, p50", "ms"),
            Figure(
                "stampede_p50_vs_cached_p50_ratio",
                "inside the window ÷ fresh key, p50",
                "×",
                at_most(3, "≤ 3"),
            ),
        ],
    ),
    (
        "4 freshness",
        "freshness",
        [
            Figure("event_processing_ms_p50", "fetch done → gateway.online event, p50", "ms"),
            Figure(
                "event_processing_ms_p99",
                "fetch done → gateway.online event, p99",
                "ms",
                at_most(200, "≤ 200 ms"),
            ),
            Figure("event_processing_writer_ms_p50", "  of which result on the bus → event, p50", "ms"),
            Figure("event_processing_writer_ms_p99", "  of which result on the bus → event, p99", "ms"),
            Figure("freshness_writer_batch_ms_mean", "  writer transaction, mean", "ms"),
            Figure("freshness_pg_commit_ms_p50", "  one-row commit on this disk, p50", "ms"),
            Figure("flip_to_event_ms_p50", "flip → event (2 s poll), p50", "ms"),
            Figure("flip_to_event_ms_p99", "flip → event (2 s poll), p99", "ms"),
        ],
    ),
    (
        "5 poller scale",
        "poller_scale",
        [
            Figure(
                "poller_lateness_p99_s",
                "schedule lateness p99 (500 instances, 10×)",
                "s",
                at_most(1, "≤ 1 s"),
            ),
            Figure("poller_lateness_p50_s", "schedule lateness p50", "s"),
            Figure("poller_cpu_share_of_core", "CPU share of one core", "×"),
            Figure("poller_cpu_ms_per_run", "CPU per scheduled run", "ms"),
            Figure("poller_peak_rss_mb_500", "peak RSS", "MB", at_most(200, "≤ 200 MB")),
            Figure("poller_results_per_s", "results published", "/s"),
            Figure("poller_scheduled_runs_per_s", "scheduled runs", "/s"),
            Figure("poller_expected_runs_per_s", "runs the schedules ask for", "/s"),
            Figure("poller_runs_vs_asked_ratio", "runs done ÷ runs asked (keeping up = 1)", "×"),
            Figure("poller_ready_s", "start → owning all 500 instances", "s"),
        ],
    ),
    (
        "6 peak RSS (benchmarks 1–3)",
        "",
        [
            Figure("api_peak_rss_mb", "api", "MB"),
            Figure("poller_peak_rss_mb", "poller", "MB"),
            Figure("writer_peak_rss_mb", "writer", "MB"),
        ],
    ),
    (
        "7 gateway history (issue 20)",
        "history",
        [
            Figure("history_poll_on_s", "writer: one 10,000-gateway online poll, history on", "s"),
            Figure("history_poll_off_s", "  the same poll, history off (alternated)", "s"),
            Figure("history_poll_on_over_off", "  on ÷ off", "×"),
            Figure("history_poll_on_same_minute_s", "  history on, second poll of a minute", "s"),
            Figure("history_query_7d_p50_ms", "one gateway over 7 days, p50", "ms", at_most(50, "< 50 ms")),
            Figure("history_query_7d_floor_p50_ms", "  SELECT 1 on the same engine, p50", "ms"),
            Figure("history_query_24h_p50_ms", "one gateway over 24 h (1,440 samples), p50", "ms"),
            Figure("history_samples_mb_per_day_10k", "samples, 10,000 gateways, per day", "MB"),
            Figure("history_rollups_mb_per_day_10k", "hourly rollups, 10,000 gateways, per day", "MB"),
        ],
    ),
]


def peak_rss(results: dict[str, Any]) -> dict[str, float]:
    """`<service>_peak_rss_mb`: the largest `<benchmark>_<service>_peak_rss_mb` of benchmarks 1–3
    (writer_ingest names its one service's figure `writer_ingest_peak_rss_mb`)."""
    peaks: dict[str, float] = {}
    for service in ("api", "poller", "writer"):
        keys = [f"{source}_{service}_peak_rss_mb" for source in RSS_SOURCES]
        if service == "writer":
            keys.append("writer_ingest_peak_rss_mb")
        values = [float(v) for key in keys if isinstance(v := results.get(key), int | float)]
        if values:
            peaks[f"{service}_peak_rss_mb"] = max(values)
    return peaks


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def verdict(figure: Figure, value: Any) -> str:
    if figure.goal is None:
        return ""
    if not isinstance(value, int | float):
        return "**short**"
    return "pass" if figure.goal.passes(float(value)) else "**short**"


def table(results: dict[str, Any]) -> str:
    status: dict[str, str] = results.get("_status", {})
    run = results.get("_run", {})
    context = (
        f" Commit {run['commit']}, whole run {run['elapsed_s']} s, 1-minute load average at the start"
        f" {run['load_average_at_start']} (the machine is shared with other work)."
        if run
        else ""
    )
    lines = [
        f"Measured {results.get('_date', '?')} on {results.get('_machine', '?')}.{context}",
        "",
        "| benchmark | figure | value | goal | |",
        "|---|---|---:|---|---|",
    ]
    for title, module, figures in SECTIONS:
        note = status.get(module, "") if module else ""
        for i, figure in enumerate(figures):
            value = results.get(figure.key)
            shown = "—" if value is None else f"{_value(value)} {figure.unit}".strip()
            head = f"{title}" + (f" ({note})" if note and not note.startswith("ok") else "") if i == 0 else ""
            goal = figure.goal.text if figure.goal else ""
            lines.append(f"| {head} | {figure.label} | {shown} | {goal} | {verdict(figure, value)} |")
    return "\n".join(lines)


def shortfalls(results: dict[str, Any]) -> list[str]:
    found = []
    for title, _module, figures in SECTIONS:
        for figure in figures:
            if figure.goal is not None and verdict(figure, results.get(figure.key)) != "pass":
                value = results.get(figure.key)
                shown = "not measured" if value is None else _value(value)
                found.append(
                    f"- {title}: {figure.label.strip()} = {shown} {figure.unit} (goal {figure.goal.text})"
                )
    return found


def write_readme(results: dict[str, Any], readme: Path = README) -> None:
    text = readme.read_text()
    block = "\n".join(
        [BEGIN, table(results), "", "Short of a goal in this run:", *(shortfalls(results) or ["- none"]), END]
    )
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise RuntimeError(f"{readme} has no {BEGIN} … {END} block")
    readme.write_text(pattern.sub(lambda _: block, text))


def main() -> None:
    results = json.loads(RESULTS.read_text())
    write_readme(results | peak_rss(results))


if __name__ == "__main__":
    main()
