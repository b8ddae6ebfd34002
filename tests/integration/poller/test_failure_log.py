"""Issue #17 item 8: a key that starts failing (here a retCode error from VOS) logs one line naming
the instance, API, kind, retCode and VOS's exception; one line when it recovers; nothing per poll."""

from __future__ import annotations

import logging

import pytest

from tests.integration.poller.conftest import (
    ResultTap,
    StartPoller,
    set_fault,
    sim_control,
    sim_records,
)
from tests.support.waiting import wait_until
from vosync.sim.cluster import SimCluster

API = "GetGatewayMappingOnline"


def _lines(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == message and getattr(r, "vos_api", None) == API]


async def test_ret_code_failure_logs_once_and_recovery_once(
    sim1: SimCluster, tap: ResultTap, start_poller: StartPoller, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="vosync")
    url = sim1.urls[0]
    await start_poller(sim_records(sim1), poller_id="f", poll_intervals={API: 0.2})
    await wait_until(lambda: len(tap.results(1, API)) >= 2, 5, "normal polling")

    await sim_control(url, "POST", "/faults", {"api": API, "mode": "ret_code", "ret_code": -10007})
    await wait_until(
        lambda: sum(1 for r in tap.results(1, API) if r.ret_code == -10007) >= 5, 10, "several failed polls"
    )
    failing = _lines(caplog, "VOS call failing")
    assert len(failing) == 1, [r.__dict__ for r in failing]
    line = failing[0]
    assert line.levelno == logging.WARNING
    assert (line.instance_id, line.error_kind, line.ret_code) == (1, "ret_code", -10007)  # type: ignore[attr-defined]
    assert "retCode -10007" in line.error  # type: ignore[attr-defined]

    await set_fault(url, API, "none")
    await wait_until(lambda: len(_lines(caplog, "VOS call recovered")) >= 1, 10, "recovery logged")
    before = len(tap.results(1, API))
    await wait_until(lambda: len(tap.results(1, API)) >= before + 5, 10, "healthy polls after recovery")
    assert len(_lines(caplog, "VOS call recovered")) == 1
    assert len(_lines(caplog, "VOS call failing")) == 1
