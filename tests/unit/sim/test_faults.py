"""Fault rules: validation, and how an API's own rule and the "*" rule combine."""

from __future__ import annotations

import pytest

from vosync.sim.faults import DEFAULT_RET_CODE, FaultInputError, FaultMode, FaultTable
from vosync.sim.vos_api import API_NAMES


@pytest.fixture
def table() -> FaultTable:
    return FaultTable(API_NAMES)


def test_no_rules_no_fault(table: FaultTable) -> None:
    effect = table.effective("GetPerformance")
    assert (effect.mode, effect.delay_s) == (FaultMode.NONE, 0.0)


def test_api_rule_wins_over_star_field_by_field(table: FaultTable) -> None:
    table.set({"api": "*", "mode": "http_500", "latency_ms": 100})
    table.set({"api": "GetSuite", "mode": "none"})
    table.set({"api": "GetPerformance", "latency_ms": 0})
    suite = table.effective("GetSuite")
    assert suite.mode is FaultMode.NONE
    assert suite.delay_s == pytest.approx(0.1)
    perf = table.effective("GetPerformance")
    assert (perf.mode, perf.delay_s) == (FaultMode.HTTP_500, 0.0)
    other = table.effective("GetSoftSwitch")
    assert other.mode is FaultMode.HTTP_500
    assert other.delay_s == pytest.approx(0.1)


def test_mode_and_latency_are_set_independently(table: FaultTable) -> None:
    table.set({"api": "GetSuite", "mode": "ret_code"})
    table.set({"api": "GetSuite", "latency_ms": [10, 20]})
    effect = table.effective("GetSuite")
    assert effect.mode is FaultMode.RET_CODE
    assert 0.01 <= effect.delay_s <= 0.02
    assert effect.ret_code == DEFAULT_RET_CODE


def test_ret_code_and_exception_can_be_chosen(table: FaultTable) -> None:
    table.set({"api": "*", "mode": "ret_code", "ret_code": -10031, "exception": "busy"})
    effect = table.effective("GetGatewayMapping")
    assert (effect.ret_code, effect.exception) == (-10031, "busy")


def test_clear(table: FaultTable) -> None:
    table.set({"api": "*", "mode": "timeout"})
    table.clear()
    assert table.effective("GetSuite").mode is FaultMode.NONE
    assert table.as_json() == {}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "JSON object"),
        ({"api": "GetNothing", "mode": "timeout"}, "api must be"),
        ({"mode": "timeout"}, "api must be"),
        ({"api": "*"}, "nothing to set"),
        ({"api": "*", "mode": "explode"}, "mode must be one of"),
        ({"api": "*", "latency_ms": -1}, "latency_ms"),
        ({"api": "*", "latency_ms": [5, 1]}, "latency_ms"),
        ({"api": "*", "latency_ms": [1, 2, 3]}, "latency_ms"),
        ({"api": "*", "latency_ms": True}, "latency_ms"),
        ({"api": "*", "mode": "ret_code", "ret_code": 0}, "nonzero"),
        ({"api": "*", "exception": 5}, "exception must be a string"),
        ({"api": "*", "mode": "none", "probability": 0.5}, "unknown fault fields: probability"),
    ],
)
def test_bad_rules_are_refused_with_a_reason(table: FaultTable, body: object, message: str) -> None:
    with pytest.raises(FaultInputError, match=message):
        table.set(body)
    assert table.as_json() == {}
