"""docker-compose.yml (and the 3-node NATS override): parses, and agrees with the code it runs."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.unit.deploy.deploy_files import (
    COMPOSE_CLUSTER_FILE,
    COMPOSE_FILE,
    NATS_CONF,
    REPO_ROOT,
    SERVICES,
    VOSYNC_NAME,
    console_scripts,
    env_example,
    interpolate,
    interpolated_names,
    load_yaml,
    nats_conf_variables,
    nats_users,
    setting_variables,
    settings_from_env,
)
from vosync.shared.bus import MAX_MESSAGE_BYTES
from vosync.shared.settings import Settings

VOSYNC_IMAGE_SERVICES = ("migrate", "poller", "writer", "api", "vos-sim")


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(COMPOSE_FILE)
    return data


def _cluster() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(COMPOSE_CLUSTER_FILE)
    return data


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Compose's merge of an override file: mappings merge key by key, everything else is replaced."""
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merged(result[key], value)
        else:
            result[key] = value
    return result


def _match(pattern: str, text: str) -> re.Match[str]:
    match = re.fullmatch(pattern, text)
    assert match is not None, f"{text!r} does not match {pattern!r}"
    return match


def _nats_nodes(services: dict[str, Any]) -> list[str]:
    return [name for name in services if name == "nats" or name.startswith("nats-")]


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment with ${...} resolved from deploy/.env.example."""
    env = service.get("environment", {})
    assert isinstance(env, dict), "environment as a mapping, so that override files merge it"
    return {name: interpolate(str(value), env_example()) for name, value in env.items()}


@pytest.fixture(params=["single", "cluster"])
def services(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The services as `docker compose` sees them: the main file alone, or with the cluster override."""
    base = _compose()
    if request.param == "single":
        return dict(base["services"])
    merged: dict[str, Any] = _merged(base, _cluster())["services"]
    return merged


def test_compose_declares_the_whole_system() -> None:
    compose = _compose()
    services = compose["services"]
    expected = {"nats", "postgres", "migrate", "poller", "writer", "api", "vos-sim", "demo-register"}
    monitoring = {"prometheus", "alertmanager", "grafana"}
    assert set(services) == expected | monitoring
    for name in monitoring:
        assert services[name]["profiles"] == ["monitoring"]
    assert services["poller"]["deploy"]["replicas"] == 2
    assert services["writer"]["deploy"]["replicas"] == 2
    for name in ("vos-sim", "demo-register"):
        assert services[name]["profiles"] == ["demo"]
    for name in ("nats", "postgres", "migrate", "poller", "writer", "api"):
        assert "profiles" not in services[name]
    # NATS 2.11+ (per-message TTL, the KV streams nats-py creates), data on named volumes
    major, minor = map(int, _match(r"nats:(\d+)\.(\d+)[-.\w]*", services["nats"]["image"]).groups())
    assert (major, minor) >= (2, 11)
    assert "nats-data:/data" in services["nats"]["volumes"]
    # PostgreSQL 18+ (raw_data VIRTUAL), its data volume where 18+ images expect it
    major = int(_match(r"postgres:(\d+)[-.\w]*", services["postgres"]["image"]).group(1))
    assert major >= 18
    assert "pg-data:/var/lib/postgresql" in services["postgres"]["volumes"]
    assert {"nats-data", "pg-data"} <= set(compose["volumes"])
    assert services["migrate"]["restart"] == "no"


def test_every_service_waits_for_what_it_needs(services: dict[str, Any]) -> None:
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in SERVICES:
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        for node in _nats_nodes(services):
            assert depends.get(node) == {"condition": "service_healthy"}, f"{name} waits for {node}"
        for dependency in depends:
            assert dependency in services
    for name, service in services.items():
        if "depends_on" in service:
            for dependency, condition in service["depends_on"].items():
                if condition["condition"] == "service_healthy":
                    assert "healthcheck" in services[dependency], f"{name} waits for {dependency}'s health"


def test_commands_are_installed_console_scripts(services: dict[str, Any]) -> None:
    commands = {name: services[name]["command"] for name in VOSYNC_IMAGE_SERVICES}
    assert commands["migrate"][0] == "vosync-migrate"
    for name in SERVICES:
        assert commands[name] == [f"vosync-{name}"]
    assert commands["vos-sim"][0] == "vos-sim"
    for name, command in commands.items():
        assert command[0] in console_scripts(), f"{name}: {command[0]} is not a [project.scripts] entry"
        image = services[name]["image"]
        assert interpolate(image, env_example()) == "vosync:local"
        assert services[name]["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}


def test_every_vosync_variable_is_a_setting() -> None:
    for path in (COMPOSE_FILE, COMPOSE_CLUSTER_FILE, REPO_ROOT / "deploy" / ".env.example"):
        for name in set(VOSYNC_NAME.findall(path.read_text())):
            assert name in setting_variables(), f"{path.name}: {name} is not a Settings field"


def test_each_service_gets_valid_settings_with_what_it_needs(services: dict[str, Any]) -> None:
    for name in ("migrate", *SERVICES):
        env = _environment(services[name])
        settings = settings_from_env(env)  # raises on any value the Settings model rejects
        if name != "migrate":
            assert settings.require_nats_url()
            # its own NATS user, with that user's password (the one the NATS server is given)
            assert env["VOSYNC_NATS_USER"] == name
            password_variable = nats_users()[name]
            assert services[name]["environment"]["VOSYNC_NATS_PASSWORD"].startswith(f"${{{password_variable}")
            assert password_variable in services["nats"]["environment"]
        if name in ("migrate", "writer", "api"):
            assert settings.require_database_url().startswith("postgresql+asyncpg://vosync:")
            assert "@postgres:5432/vosync" in settings.require_database_url()
        else:
            assert settings.database_url is None, "the poller needs no database credentials"


def test_poll_intervals_and_cache_ttls_are_set_once_and_reach_every_service(services: dict[str, Any]) -> None:
    """Issue #17 item 9: one place (deploy/.env), passed to poller, writer and api alike."""
    env = env_example()
    assert "VOSYNC_POLL_INTERVALS" in env and "VOSYNC_CACHE_TTLS" in env
    example = {
        **env,
        "VOSYNC_POLL_INTERVALS": '{"GetGatewayMapping": 77}',
        "VOSYNC_CACHE_TTLS": '{"GetGatewayMapping": 99}',
    }
    for name in SERVICES:
        raw = services[name]["environment"]
        values = {
            k: interpolate(str(raw[k]), example) for k in ("VOSYNC_POLL_INTERVALS", "VOSYNC_CACHE_TTLS")
        }
        settings = settings_from_env(values)
        assert settings.poll_intervals == {"GetGatewayMapping": 77}, name
        assert settings.cache_ttls == {"GetGatewayMapping": 99}, name
        assert settings_from_env(_environment(services[name])).cache_ttls == {}, "empty: catalogue defaults"


def test_retention_defaults_are_the_settings_and_writer_and_api_agree_on_the_cache_one(
    services: dict[str, Any],
) -> None:
    """Issue #17 item 10: the writer deletes by the retention settings; the api marks cache rows read
    by the same cache retention, so both read it from one place."""
    defaults = Settings()
    writer = settings_from_env(_environment(services["writer"]))
    api = settings_from_env(_environment(services["api"]))
    bare = {
        k: interpolate(str(v), {}) for k, v in services["writer"]["environment"].items() if "RETENTION" in k
    }
    assert settings_from_env(bare).outbox_retention_s == defaults.outbox_retention_s
    assert settings_from_env(bare).outbox_dead_retention_s == defaults.outbox_dead_retention_s
    assert settings_from_env(bare).cache_retention_s == defaults.cache_retention_s
    assert writer.cache_retention_s == api.cache_retention_s == defaults.cache_retention_s
    assert writer.writer_cleanup_interval_s == defaults.writer_cleanup_interval_s
    changed = {**env_example(), "VOSYNC_CACHE_RETENTION_S": "86400"}
    for name in ("writer", "api"):
        raw = services[name]["environment"]["VOSYNC_CACHE_RETENTION_S"]
        assert (
            settings_from_env({"VOSYNC_CACHE_RETENTION_S": interpolate(str(raw), changed)}).cache_retention_s
            == 86400
        )


def test_clients_reach_every_nats_node_with_matching_replicas(services: dict[str, Any]) -> None:
    nodes = sorted(_nats_nodes(services))
    for name in SERVICES:
        settings = settings_from_env(_environment(services[name]))
        urls = settings.require_nats_url().split(",")
        hosts = sorted(_match(r"nats://([\w-]+):4222", url.strip()).group(1) for url in urls)
        assert hosts == nodes, name
        assert settings.stream_replicas == len(nodes), name


def test_health_checks_probe_the_ports_the_services_listen_on(services: dict[str, Any]) -> None:
    for name in ("poller", "writer", "api"):
        env = _environment(services[name])
        settings = settings_from_env(env)
        check = " ".join(services[name]["healthcheck"]["test"])
        port = settings.api_port if name == "api" else settings.ops_port
        assert port != 0
        assert f"http://127.0.0.1:{port}/health/ready" in check, name
        assert (settings.api_host if name == "api" else settings.ops_host) == "0.0.0.0"
    api_ports = [interpolate(p, env_example()) for p in services["api"]["ports"]]
    assert api_ports == ["127.0.0.1:8000:8000"]
    assert services["api"]["environment"]["VOSYNC_AUTH"] == "required"


def test_nats_runs_the_deploy_configuration(services: dict[str, Any]) -> None:
    nodes = {n: services[n] for n in _nats_nodes(services)}
    payload = re.search(r"^max_payload:\s*(\d+)", (NATS_CONF / "common.conf").read_text(), re.MULTILINE)
    assert payload is not None and int(payload.group(1)) >= MAX_MESSAGE_BYTES + 1024 * 1024
    names = set()
    for name, node in nodes.items():
        assert "./deploy/nats:/etc/nats/vosync:ro" in node["volumes"], name
        assert node["command"][0] == "--config"
        config = node["command"][1].removeprefix("/etc/nats/vosync/")
        assert (NATS_CONF / config).is_file()
        needed = nats_conf_variables(config, "common.conf", "accounts.conf")
        env = _environment(node)
        assert needed <= set(env), f"{name} lacks {needed - set(env)}"
        if len(nodes) > 1:
            names.add(env["NATS_SERVER_NAME"])
            routes = sorted(env[f"NATS_ROUTE_{i}"] for i in (1, 2, 3))
            hosts = sorted(_match(r"nats-route://route:[^@]+@([\w-]+):6222", r).group(1) for r in routes)
            assert hosts == sorted(nodes)
    if len(nodes) > 1:
        assert len(names) == len(nodes) == 3


def test_every_interpolated_variable_is_in_the_env_example() -> None:
    example = env_example()
    for path in (COMPOSE_FILE, COMPOSE_CLUSTER_FILE):
        for name, operator in interpolated_names(path.read_text()):
            assert name in example or operator in (":-", "-"), f"{path.name}: ${{{name}}} not in .env.example"
    secrets = {n for n in example if n.endswith("_PASSWORD")} | {"VOSYNC_API_KEYS"}
    for name in secrets:
        assert "change-me" in example[name], f"{name}: the example must not carry a usable secret"
