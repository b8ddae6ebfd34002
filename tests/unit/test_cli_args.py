"""Every vosync command answers --help and --version without starting anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
COMMANDS = ["vosync-api", "vosync-writer", "vosync-poller", "vos-sim", "vosync"]


@pytest.mark.parametrize("command", COMMANDS)
def test_version_prints_name_and_version(command: str) -> None:
    # No VOSYNC_* settings and no servers: a command that started would fail or hang, not print this.
    done = subprocess.run(
        [str(BIN / command), "--version"], capture_output=True, text=True, timeout=20, env={}
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{command} 0.1.0"


@pytest.mark.parametrize("command", COMMANDS)
def test_help_prints_usage(command: str) -> None:
    done = subprocess.run([str(BIN / command), "--help"], capture_output=True, text=True, timeout=20, env={})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: {command}")


@pytest.mark.parametrize("command", ["vosync-api", "vosync-writer", "vosync-poller"])
def test_unknown_option_is_refused_before_starting(command: str) -> None:
    done = subprocess.run([str(BIN / command), "--bogus"], capture_output=True, text=True, timeout=20, env={})
    assert done.returncode == 2
    assert "unrecognized arguments: --bogus" in done.stderr
