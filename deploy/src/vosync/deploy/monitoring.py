"""`vosync up --monitoring`: Debian's Prometheus (and Alertmanager, where installed) against the
local stack, with the rules of deploy/monitoring/rules.

The configuration is written for the ports this run chose (each service's ops port is picked free
at start), so it is made here rather than taken from deploy/monitoring/prometheus.yml, which finds
the services by their compose names.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

RULES_DIR = Path(__file__).resolve().parents[4] / "deploy" / "monitoring" / "rules"
ALERTMANAGER_CONFIG = RULES_DIR.parent / "alertmanager.yml"
PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
INSTALL_HINT = (
    "vosync up --monitoring needs Prometheus: install Debian's `prometheus` package "
    "(apt-get install prometheus; add prometheus-alertmanager for alerts), or run the compose "
    "monitoring profile (deploy/README.md)"
)


@dataclass(frozen=True)
class Binaries:
    prometheus: str
    alertmanager: str | None


def find_binaries() -> Binaries | None:
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        return None
    return Binaries(prometheus, shutil.which("prometheus-alertmanager") or shutil.which("alertmanager"))


def prometheus_config(jobs: dict[str, list[str]], alertmanager: str | None) -> str:
    """prometheus.yml for `jobs` (job name → host:port targets), with vosync's rules."""
    lines = ["global:", "  scrape_interval: 15s", "  evaluation_interval: 15s"]
    if RULES_DIR.is_dir():
        lines += ["rule_files:", f"  - {RULES_DIR}/*.yml"]
    if alertmanager:
        lines += [
            "alerting:",
            "  alertmanagers:",
            "    - static_configs:",
            f"        - targets: ['{alertmanager}']",
        ]
    lines.append("scrape_configs:")
    for job, targets in jobs.items():
        listed = ", ".join(f"'{t}'" for t in targets)
        lines += [f"  - job_name: {job}", "    static_configs:", f"      - targets: [{listed}]"]
    return "\n".join(lines) + "\n"
