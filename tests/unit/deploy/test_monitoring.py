"""deploy/monitoring: valid for Prometheus's own checker, and naming only metrics vosync exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from tests.unit.deploy.deploy_files import COMPOSE_FILE, DEPLOY, K8S, load_yaml, load_yaml_documents
from vosync.api.lib.metrics import ApiMetrics
from vosync.poller.metrics import PollerMetrics
from vosync.writer.metrics import WriterMetrics

MONITORING = DEPLOY / "monitoring"
RULES = MONITORING / "rules" / "vosync-alerts.yml"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "vosync.json"

# Series Prometheus itself adds to every target, and PromQL words that look like metric names.
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
PROMQL_WORDS = {
    "by", "on", "without", "ignoring", "group_left", "group_right", "offset", "and", "or", "unless",
    "bool", "le", "time", "sum", "max", "min", "avg", "count", "rate", "increase", "delta", "deriv",
    "histogram_quantile", "humanizeDuration", "instance_id", "api", "kind", "gateway_type", "route",
    "status", "job", "outcome", "instance",
}  # fmt: skip
IDENTIFIER = re.compile(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b")


def exported_series() -> set[str]:
    """Every series name the three services' /metrics can show (the exposition text of their
    registries, as scraped: counters with _total, histograms with _bucket/_count/_sum)."""
    names: set[str] = set()
    for registry in (PollerMetrics().registry, WriterMetrics().registry, ApiMetrics().registry):
        for line in generate_latest(registry).decode().splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ", 3)
                names |= {
                    "counter": {name, f"{name.removesuffix('_total')}_created"},
                    "histogram": {f"{name}_bucket", f"{name}_count", f"{name}_sum"},
                }.get(kind, {name})
            elif line and not line.startswith("#"):
                names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads: identifiers outside label matchers and strings."""
    bare = re.sub(r"\{[^}]*\}", "", re.sub(r'"[^"]*"', "", expr))
    bare = re.sub(r"\[[^\]]*\]", "", bare)  # range selectors: [5m], [5m:30s]
    return {
        word
        for word in IDENTIFIER.findall(bare)
        if word not in PROMQL_WORDS and not re.fullmatch(r"\d+[smhd]?|e\d+", word)
    }


def rule_expressions() -> dict[str, str]:
    rules = load_yaml(RULES)
    return {rule["alert"]: rule["expr"] for group in rules["groups"] for rule in group["rules"]}


def dashboard_expressions() -> dict[str, str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return {
        f"{panel['title']} / {target['refId']}": target["expr"]
        for panel in dashboard["panels"]
        for target in panel["targets"]
    }


def test_the_alerts_the_issue_asks_for_exist() -> None:
    assert set(rule_expressions()) == {
        "VosyncOnlineDataStale",
        "VosyncVosFailing",
        "VosyncWriterLagGrowing",
        "VosyncOutboxBacklogGrowing",
        "VosyncOnlineGatewaysDropped",
        "VosyncServiceDown",
    }


@pytest.mark.parametrize("source", ["rules", "dashboard"])
def test_every_expression_reads_only_metrics_the_services_export(source: str) -> None:
    exprs = rule_expressions() if source == "rules" else dashboard_expressions()
    exported = exported_series() | PROMETHEUS_OWN
    unknown = {name: sorted(metric_names(expr) - exported) for name, expr in exprs.items()}
    assert not {k: v for k, v in unknown.items() if v}, "metrics no service exports"


def test_the_expression_reader_sees_the_metric_names() -> None:
    expr = 'max by (instance_id) (rate(vosync_vos_failures_total{kind="x"}[5m])) > 0.5 * up offset 2m'
    assert metric_names(expr) == {"vosync_vos_failures_total", "up"}


def test_the_dashboard_is_provisioned_from_the_datasource_it_names() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    datasource = load_yaml(MONITORING / "grafana" / "provisioning" / "datasources" / "prometheus.yml")
    uids = {d["uid"] for d in datasource["datasources"]}
    assert dashboard["uid"] and dashboard["panels"]
    assert {p["datasource"]["uid"] for p in dashboard["panels"]} <= uids
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_the_kubernetes_prometheus_rule_is_the_rules_file() -> None:
    (rule,) = load_yaml_documents(K8S / "monitoring" / "prometheusrule.yaml")
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"] == load_yaml(RULES)


def test_the_compose_monitoring_profile_mounts_these_files() -> None:
    services = load_yaml(COMPOSE_FILE)["services"]
    for name in ("prometheus", "alertmanager", "grafana"):
        assert services[name]["profiles"] == ["monitoring"]
        for volume in services[name]["volumes"]:
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (COMPOSE_FILE.parent / source).exists(), f"{name} mounts missing {source}"


def _promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (make test installs Debian's prometheus as root)")
    return subprocess.run([promtool, *map(str, args)], capture_output=True, text=True, timeout=60)


def test_promtool_accepts_the_rules() -> None:
    done = _promtool("check", "rules", RULES)
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_accepts_the_config(tmp_path: Path) -> None:
    # The config names its rules by their path inside the container: point it at this checkout.
    text = (MONITORING / "prometheus.yml").read_text().replace("/etc/prometheus/rules", str(RULES.parent))
    config = tmp_path / "prometheus.yml"
    config.write_text(text)
    done = _promtool("check", "config", config)
    assert done.returncode == 0, done.stdout + done.stderr
