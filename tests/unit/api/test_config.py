"""Start-up checks: auth off only on loopback; the command exits 2 with a clear message."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vosync.api.config import check_api_settings, is_loopback
from vosync.shared.settings import Settings, SettingsError

URLS: dict[str, Any] = {"nats_url": "nats://127.0.0.1:1", "database_url": "postgresql://u@127.0.0.1:1/db"}


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.1.2.3", False),
        ("api.example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_auth_off_refused_on_a_non_loopback_host() -> None:
    with pytest.raises(SettingsError, match="VOSYNC_AUTH=off is only allowed"):
        check_api_settings(Settings(**URLS, auth="off", api_host="0.0.0.0"))
    check_api_settings(Settings(**URLS, auth="off", api_host="127.0.0.1"))


def test_auth_required_needs_keys() -> None:
    with pytest.raises(SettingsError, match="VOSYNC_API_KEYS is empty"):
        check_api_settings(Settings(**URLS, auth="required", api_keys={}))
    check_api_settings(Settings(**URLS, auth="required", api_keys={"k": "read"}, api_host="0.0.0.0"))


def test_command_exits_2_with_the_reason() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOSYNC_")}
    env |= {
        "VOSYNC_NATS_URL": URLS["nats_url"],
        "VOSYNC_DATABASE_URL": URLS["database_url"],
        "VOSYNC_AUTH": "off",
        "VOSYNC_API_HOST": "0.0.0.0",
    }
    script = Path(sys.executable).with_name("vosync-api")
    proc = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "VOSYNC_AUTH=off is only allowed" in proc.stderr
