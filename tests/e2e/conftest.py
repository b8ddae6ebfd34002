"""Fixtures of the end-to-end tests (the whole-stack fixture is tests/fixtures/stack.py)."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture
def vosync_debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Every vosync log line down to DEBUG in a failed test's report: an end-to-end failure is
    read from the services' logs."""
    caplog.set_level(logging.DEBUG, logger="vosync")
