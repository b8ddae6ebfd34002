"""deploy/k8s: the kustomization's manifests parse and agree with the code and with each other."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.deploy.deploy_files import (
    K8S,
    SERVICES,
    VOSYNC_NAME,
    console_scripts,
    load_yaml,
    load_yaml_documents,
    nats_permissions,
    nats_users,
    setting_variables,
    settings_from_env,
)
from vosync.shared.bus import MAX_MESSAGE_BYTES


def _kustomization() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(K8S / "kustomization.yaml")
    return data


def _objects() -> list[dict[str, Any]]:
    return [doc for resource in _kustomization()["resources"] for doc in load_yaml_documents(K8S / resource)]


def _one(kind: str, name: str) -> dict[str, Any]:
    [found] = [o for o in _objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def _config_map() -> dict[str, str]:
    data: dict[str, str] = _one("ConfigMap", "vosync-config")["data"]
    return data


def _secret_example() -> dict[str, str]:
    data: dict[str, str] = load_yaml(K8S / "secret.example.yaml")["stringData"]
    return data


def _workloads() -> dict[str, dict[str, Any]]:
    """The three Deployments and the migrate Job, by component."""
    found: dict[str, dict[str, Any]] = {}
    for obj in _objects():
        if obj["kind"] in ("Deployment", "Job"):
            found[obj["metadata"]["labels"]["app.kubernetes.io/component"]] = obj
    return found


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    [container] = workload["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def _environment(container: dict[str, Any]) -> dict[str, str]:
    """The container's VOSYNC_ environment; secrets replaced by the example Secret's values."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        assert source["configMapRef"]["name"] == "vosync-config"
        env.update(_config_map())
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
        elif "secretKeyRef" in item["valueFrom"]:
            ref = item["valueFrom"]["secretKeyRef"]
            assert ref["name"] == "vosync-secrets"
            assert ref["key"] in _secret_example(), f"{ref['key']} is not in secret.example.yaml"
            env[item["name"]] = _secret_example()[ref["key"]]
        else:
            env[item["name"]] = "from-field-ref"
    return env


def test_kustomization_lists_existing_manifests_that_parse() -> None:
    kustomization = _kustomization()
    assert kustomization["kind"] == "Kustomization"
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in _objects())
    assert kinds == sorted(
        [
            ("Namespace", "vosync"),
            ("ConfigMap", "vosync-config"),
            ("Job", "vosync-migrate"),
            ("Deployment", "vosync-api"),
            ("Service", "vosync-api"),
            ("Deployment", "vosync-poller"),
            ("Deployment", "vosync-writer"),
            ("PodDisruptionBudget", "vosync-api"),
            ("PodDisruptionBudget", "vosync-poller"),
            ("PodDisruptionBudget", "vosync-writer"),
            ("HorizontalPodAutoscaler", "vosync-poller"),
            ("HorizontalPodAutoscaler", "vosync-writer"),
        ]
    )
    # the Secret and the NATS chart values are documented beside it, never applied by it
    assert "secret.example.yaml" not in kustomization["resources"]
    assert "nats-values.yaml" not in kustomization["resources"]


def test_images_and_commands() -> None:
    [image] = _kustomization()["images"]
    for component, workload in _workloads().items():
        container = _container(workload)
        assert container["image"] == image["name"], component
        assert container["command"][0] in console_scripts(), component
        expected = "vosync-migrate" if component == "migrate" else f"vosync-{component}"
        assert container["command"][0] == expected


def test_every_vosync_variable_is_a_setting() -> None:
    for path in sorted(K8S.glob("*.yaml")):
        for name in set(VOSYNC_NAME.findall(path.read_text())):
            assert name in setting_variables(), f"{path.name}: {name} is not a Settings field"


@pytest.mark.parametrize("component", ["migrate", *SERVICES])
def test_each_service_gets_valid_settings_with_what_it_needs(component: str) -> None:
    env = _environment(_container(_workloads()[component]))
    settings = settings_from_env(env)
    if component in ("migrate", "writer", "api"):
        assert settings.require_database_url()
    else:
        assert settings.database_url is None, "the poller needs no database credentials"
    if component == "migrate":
        return
    assert settings.require_nats_url()
    assert env["VOSYNC_NATS_USER"] == component
    assert component in nats_users()
    assert settings.nats_password
    # three replicas of every stream on the three-node cluster the chart values describe
    values = load_yaml(K8S / "nats-values.yaml")
    assert settings.stream_replicas == values["config"]["cluster"]["replicas"] == 3
    assert len(settings.require_nats_url().split(",")) == 3
    if component == "api":
        assert settings.auth == "required" and settings.api_keys


def test_probes_ports_and_resources() -> None:
    settings = settings_from_env(_config_map())
    for component, workload in _workloads().items():
        pod = workload["spec"]["template"]["spec"]
        container = _container(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        resources = container["resources"]
        assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
        if component == "migrate":
            assert workload["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
            continue
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        expected_port = settings.api_port if component == "api" else settings.ops_port
        assert list(ports.values()) == [expected_port], component
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["port"] in ports, f"{component} {probe}"
    assert settings.ops_host == settings.api_host == "0.0.0.0"


def test_service_pdbs_and_hpas_select_the_deployments() -> None:
    deployments = {o["metadata"]["name"]: o for o in _objects() if o["kind"] == "Deployment"}
    pod_labels = {name: d["spec"]["template"]["metadata"]["labels"] for name, d in deployments.items()}
    for name, deployment in deployments.items():
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= pod_labels[name].items()
    service = _one("Service", "vosync-api")
    assert service["spec"]["selector"].items() <= pod_labels["vosync-api"].items()
    [port] = service["spec"]["ports"]
    assert port["targetPort"] in {p["name"] for p in _container(deployments["vosync-api"])["ports"]}
    pdbs = [o for o in _objects() if o["kind"] == "PodDisruptionBudget"]
    assert {p["metadata"]["name"] for p in pdbs} == set(deployments)
    for pdb in pdbs:
        target = pdb["spec"]["selector"]["matchLabels"]
        assert target.items() <= pod_labels[pdb["metadata"]["name"]].items()
        assert pdb["spec"]["minAvailable"] < deployments[pdb["metadata"]["name"]]["spec"]["replicas"]
    hpas = {o["metadata"]["name"]: o for o in _objects() if o["kind"] == "HorizontalPodAutoscaler"}
    assert set(hpas) == {"vosync-poller", "vosync-writer"}
    for name, hpa in hpas.items():
        ref = hpa["spec"]["scaleTargetRef"]
        assert (ref["kind"], ref["name"]) == ("Deployment", name)
        assert hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]


def test_nats_chart_values_grant_the_same_permissions_as_the_nats_config() -> None:
    values = load_yaml(K8S / "nats-values.yaml")
    merge = values["config"]["merge"]
    users = {u["user"]: u for u in merge["accounts"]["VOSYNC"]["users"]}
    assert set(users) == set(nats_users()) - {"sys"}
    for service in SERVICES:
        granted = users[service]["permissions"]
        expected = nats_permissions(service)
        assert set(granted["publish"]["allow"]) == expected["publish"], service
        assert set(granted["subscribe"]["allow"]) == expected["subscribe"], service
        assert bool(granted.get("allow_responses")) == expected["allow_responses"], service
        variable = nats_users()[service]
        assert users[service]["password"] == f"<< ${variable} >>"
        assert variable in values["container"]["env"]
    assert "permissions" not in users["admin"]
    max_payload = merge["max_payload"].strip("<> ")
    assert max_payload.endswith("MB") and int(max_payload[:-2]) * 1024 * 1024 > MAX_MESSAGE_BYTES
    assert values["config"]["jetstream"]["fileStore"]["enabled"] is True
