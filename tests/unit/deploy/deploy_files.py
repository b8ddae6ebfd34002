"""Reading the deploy files (compose, Kubernetes, NATS config, Dockerfile) for consistency checks."""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # no stubs installed; its loaders return Any anyway
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from vosync.shared.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[3]
DEPLOY = REPO_ROOT / "deploy"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
COMPOSE_CLUSTER_FILE = DEPLOY / "nats" / "compose.cluster.yml"
ENV_EXAMPLE = DEPLOY / ".env.example"
K8S = DEPLOY / "k8s"
NATS_CONF = DEPLOY / "nats"

SERVICES = ("poller", "writer", "api")
VOSYNC_NAME = re.compile(r"\bVOSYNC_[A-Z0-9_]+\b")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@cache
def setting_variables() -> frozenset[str]:
    """Every environment variable the Settings model reads."""
    return frozenset(f"VOSYNC_{name.upper()}" for name in Settings.model_fields)


@cache
def workspace_members() -> tuple[str, ...]:
    root = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    return tuple(root["tool"]["uv"]["workspace"]["members"])


@cache
def console_scripts() -> frozenset[str]:
    """The commands the workspace installs ([project.scripts] of every member)."""
    scripts: set[str] = set()
    for member in workspace_members():
        project = tomllib.loads((REPO_ROOT / member / "pyproject.toml").read_text())["project"]
        scripts.update(project.get("scripts", {}))
    return frozenset(scripts)


def env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f"{ENV_EXAMPLE}: not NAME=value: {line!r}"
            values[name.strip()] = value.strip()
    return values


_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def interpolated_names(text: str) -> list[tuple[str, str | None]]:
    """`${NAME}`, `${NAME:-default}`, `${NAME:?error}` references: (name, operator or None)."""
    return [(m.group(1), m.group(2)) for m in _INTERPOLATION.finditer(text.replace("$$", ""))]


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable substitution, for the forms the compose files use."""

    def _sub(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if name in env and (env[name] or not (op or "").startswith(":")):
            return env[name]
        if op in (":-", "-"):
            return arg or ""
        raise AssertionError(f"${{{name}}} is not set and has no default")

    return _INTERPOLATION.sub(_sub, value)


class _ThisEnvironmentOnly(Settings):
    """Settings from the given values alone: the test process's own VOSYNC_ variables do not leak in."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def settings_from_env(environment: dict[str, str]) -> Settings:
    """The Settings a service builds from these variables (and no others)."""
    values: dict[str, Any] = {
        name.removeprefix("VOSYNC_").lower(): value
        for name, value in environment.items()
        if name.startswith("VOSYNC_")
    }
    return _ThisEnvironmentOnly(**values)


# -- NATS configuration ---------------------------------------------------------------------------
_BLOCK_END = re.compile(r"^}\s*$", re.MULTILINE)
_QUOTED = re.compile(r'"([^"]+)"')


def _block(text: str, name: str) -> str:
    start = text.index(f"{name} = {{")
    end = _BLOCK_END.search(text, start)
    assert end is not None, f"no end of {name}"
    return text[start : end.end()]


def _strip_comments(text: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())  # no subject contains '#'


def nats_permissions(user: str) -> dict[str, Any]:
    """{publish: set, subscribe: set, allow_responses: bool} of a service user in accounts.conf."""
    block = _strip_comments(_block((NATS_CONF / "accounts.conf").read_text(), f"{user.upper()}_PERMISSIONS"))
    publish_part, _, rest = block.partition("subscribe:")
    return {
        "publish": set(_QUOTED.findall(publish_part)),
        "subscribe": set(_QUOTED.findall(rest)),
        "allow_responses": bool(re.search(r"^\s*allow_responses:\s*true\s*$", rest, re.MULTILINE)),
    }


def nats_users() -> dict[str, str]:
    """user -> the environment variable holding its password, from accounts.conf."""
    text = (NATS_CONF / "accounts.conf").read_text()
    return dict(re.findall(r"\{\s*user:\s*(\w+),\s*password:\s*\$(\w+)", text))


def nats_conf_variables(*files: str) -> set[str]:
    """Environment variables the NATS config files reference (`$NAME` not defined in the files)."""
    texts = [(NATS_CONF / f).read_text() for f in files]
    defined = {name for text in texts for name in re.findall(r"^(\w+)\s*=", text, re.MULTILINE)}
    referenced = {
        name
        for text in texts
        for line in text.splitlines()
        if not line.lstrip().startswith("#")
        for name in re.findall(r"(?<![\w.\"])\$([A-Z][A-Z0-9_]*)", line.split("#", 1)[0])
    }
    return referenced - defined
