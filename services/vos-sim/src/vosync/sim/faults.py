"""Injected faults and latency per API (or for all with "*"), and the per-API call counters.

Mode and latency are independent settings: a rule may set either or both, and an API's own rule wins
over the "*" rule field by field.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

ALL_APIS = "*"
DEFAULT_RET_CODE = -10007
DEFAULT_EXCEPTION = "Not found, operation failed."


class FaultMode(StrEnum):
    NONE = "none"
    TIMEOUT = "timeout"  # hold the request open (an hour), as a hung VOS does
    HTTP_500 = "http_500"
    INVALID_JSON = "invalid_json"  # HTTP 200 with a cut-off JSON body
    EMPTY_BODY = "empty_body"  # HTTP 200 with no body, as VOS answers when its JSP fails
    RET_CODE = "ret_code"  # {"retCode": <nonzero>, "exception": "..."}


class FaultInputError(ValueError):
    """A fault request that cannot be applied; the message says why."""


@dataclass(slots=True)
class FaultRule:
    mode: FaultMode | None = None
    latency_ms: tuple[float, float] | None = None
    ret_code: int | None = None
    exception: str | None = None

    def as_json(self) -> dict[str, Any]:
        latency = None if self.latency_ms is None else list(self.latency_ms)
        return {
            "mode": self.mode,
            "latency_ms": latency,
            "ret_code": self.ret_code,
            "exception": self.exception,
        }


@dataclass(frozen=True, slots=True)
class Effective:
    """What to do with one call."""

    mode: FaultMode
    delay_s: float
    ret_code: int
    exception: str


NO_FAULT = Effective(FaultMode.NONE, 0.0, DEFAULT_RET_CODE, DEFAULT_EXCEPTION)


@dataclass
class FaultTable:
    known_apis: frozenset[str]
    rules: dict[str, FaultRule] = field(default_factory=dict)
    _rng: random.Random = field(default_factory=random.Random)

    def clear(self) -> None:
        self.rules.clear()

    def set(self, body: Any) -> FaultRule:
        """Apply one `POST /_sim/faults` body; fields left out keep their current value."""
        if not isinstance(body, dict):
            raise FaultInputError('body must be a JSON object like {"api": "*", "mode": "timeout"}')
        unknown = set(body) - {"api", "mode", "latency_ms", "ret_code", "exception"}
        if unknown:
            raise FaultInputError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        api = body.get("api")
        if api != ALL_APIS and api not in self.known_apis:
            raise FaultInputError(f"api must be '*' or one of: {', '.join(sorted(self.known_apis))}")
        if not {"mode", "latency_ms", "ret_code", "exception"} & set(body):
            raise FaultInputError("nothing to set: give mode and/or latency_ms")
        rule = self.rules.get(api) or FaultRule()
        updated = FaultRule(rule.mode, rule.latency_ms, rule.ret_code, rule.exception)
        if "mode" in body:
            updated.mode = _mode(body["mode"])
        if "latency_ms" in body:
            updated.latency_ms = _latency(body["latency_ms"])
        if "ret_code" in body:
            updated.ret_code = _ret_code(body["ret_code"])
        if "exception" in body:
            if not isinstance(body["exception"], str):
                raise FaultInputError("exception must be a string")
            updated.exception = body["exception"]
        self.rules[api] = updated
        return updated

    def effective(self, api: str) -> Effective:
        if not self.rules:
            return NO_FAULT
        own, every = self.rules.get(api) or FaultRule(), self.rules.get(ALL_APIS) or FaultRule()
        mode = own.mode or every.mode or FaultMode.NONE
        latency = own.latency_ms or every.latency_ms
        delay = 0.0 if latency is None else self._rng.uniform(*latency) / 1000
        ret_code = own.ret_code or every.ret_code or DEFAULT_RET_CODE
        exception = own.exception or every.exception or DEFAULT_EXCEPTION
        return Effective(mode, delay, ret_code, exception)

    def as_json(self) -> dict[str, Any]:
        return {api: rule.as_json() for api, rule in self.rules.items()}


def _mode(value: Any) -> FaultMode:
    try:
        return FaultMode(value)
    except ValueError:
        raise FaultInputError(f"mode must be one of: {', '.join(m.value for m in FaultMode)}") from None


def _latency(value: Any) -> tuple[float, float] | None:
    """A fixed number of ms or a [min, max] range; null unsets (an explicit 0 still overrides "*")."""
    if value is None:
        return None
    number = (int, float)
    if isinstance(value, number) and not isinstance(value, bool) and value >= 0:
        return (float(value), float(value))
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, number) and not isinstance(v, bool) for v in value)
        and 0 <= value[0] <= value[1]
    ):
        return (float(value[0]), float(value[1]))
    raise FaultInputError("latency_ms must be a number of ms >= 0 or [min, max] with 0 <= min <= max")


def _ret_code(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value == 0:
        raise FaultInputError("ret_code must be a nonzero integer")
    return value
