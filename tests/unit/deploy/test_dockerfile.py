"""deploy/Dockerfile and .dockerignore: the image installs the locked workspace and runs as non-root."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib

from tests.unit.deploy.deploy_files import DEPLOY, REPO_ROOT, console_scripts, workspace_members

DOCKERFILE = DEPLOY / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical: list[str] = []
    current = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        current += " " + line.removesuffix("\\").strip()
        if not line.endswith("\\"):
            logical.append(current.strip())
            current = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in logical]


def _args() -> dict[str, str]:
    values = {}
    for instruction, rest in _instructions():
        if instruction == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            values[name] = value.strip('"')
    return values


def _stages() -> dict[str, list[tuple[str, str]]]:
    stages: dict[str, list[tuple[str, str]]] = {}
    name = ""
    for instruction, rest in _instructions():
        if instruction == "FROM":
            name = rest.split()[-1] if " AS " in rest.upper() else rest
            stages[name] = []
        elif name:
            stages[name].append((instruction, rest))
    return stages


def test_uv_and_python_versions_are_the_projects() -> None:
    args = _args()
    dev = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["dependency-groups"]["dev"]
    [pinned] = [d.split("==")[1] for d in dev if d.startswith("uv==")]
    assert args["UV_IMAGE"] == f"ghcr.io/astral-sh/uv:{pinned}"
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", args["PYTHON_IMAGE"])
    assert set(_stages()) == {"uv", "build", "runtime"}


def test_dependencies_come_from_the_lock_without_dev_tools() -> None:
    flags = shlex.split(_args()["UV_SYNC_FLAGS"])
    assert {"--frozen", "--no-dev", "--all-packages", "--no-editable"} <= set(flags)
    locked = {p["name"] for p in tomllib.loads((REPO_ROOT / "uv.lock").read_text())["package"]}
    left_out = [flags[i + 1] for i, flag in enumerate(flags) if flag == "--no-install-package"]
    assert left_out and set(left_out) <= locked
    runs = [rest for instruction, rest in _stages()["build"] if instruction == "RUN"]
    assert len(runs) == 2 and all("uv sync ${UV_SYNC_FLAGS}" in run for run in runs)


def test_every_workspace_member_is_copied_and_not_ignored() -> None:
    copied = []
    for instruction, rest in _stages()["build"]:
        if instruction == "COPY" and not rest.startswith("--from"):
            *sources, _target = rest.split()
            copied += sources
    for member in workspace_members():
        assert f"{member}/pyproject.toml" in copied and f"{member}/src" in copied, member
    assert {"pyproject.toml", "uv.lock"} <= set(copied)
    ignored = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for source in copied:
        assert (REPO_ROOT / source).exists(), source
        for pattern in ignored:
            parts = source.split("/")
            prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
            assert not any(fnmatch.fnmatch(p, pattern) for p in prefixes), f"{source} excluded by {pattern}"


def test_runtime_runs_a_service_as_non_root() -> None:
    runtime = _stages()["runtime"]
    [user] = [rest for instruction, rest in runtime if instruction == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    [cmd] = [rest for instruction, rest in runtime if instruction == "CMD"]
    assert json.loads(cmd)[0] in console_scripts()
    copies = [rest for instruction, rest in runtime if instruction == "COPY"]
    assert copies == ["--from=build /opt/vosync /opt/vosync"]
    env = " ".join(rest for instruction, rest in runtime if instruction == "ENV")
    assert "PATH=/opt/vosync/bin:$PATH" in env
