"""Lenient reading of VOS reply objects: keys matched case-insensitively, values coerced or dropped.

VOS builds differ (`remoteIps` vs `RemoteIps`, `…Sip` vs `…SIP`, numbers sent as strings), and a
reply is data from outside: a value that cannot be read becomes None and is counted as a problem,
it never raises.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from typing import Any

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
_MISSING = object()


class Problems(Counter[str]):
    """What was wrong with a reply, by kind (`item_not_object`, `bad_value:capacity`, …)."""

    def note(self, kind: str) -> None:
        self[kind] += 1


def find_key(obj: Mapping[str, Any], key: str) -> str | None:
    """The key of `obj` equal to `key` ignoring case (the exact spelling wins), or None."""
    if key in obj:
        return key
    folded = key.casefold()
    for candidate in obj:
        if isinstance(candidate, str) and candidate.casefold() == folded:
            return candidate
    return None


class Item:
    """One VOS object; `get` ignores key case, building the folded index only when needed."""

    __slots__ = ("_folded", "raw")

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self._folded: dict[str, Any] | None = None

    def get(self, key: str) -> Any:
        value = self.raw.get(key, _MISSING)
        if value is not _MISSING:
            return value
        if self._folded is None:
            self._folded = {k.casefold(): v for k, v in self.raw.items() if isinstance(k, str)}
        return self._folded.get(key.casefold())


def as_int(value: Any, field: str, problems: Problems) -> int | None:
    """An int32 from an int, an integral float or a numeric string; anything else is a problem."""
    if type(value) is int and INT32_MIN <= value <= INT32_MAX:  # the usual case, first
        return value
    if value is None or value == "":
        return None
    result: int | None = None
    if isinstance(value, bool):
        result = None
    elif isinstance(value, int):
        result = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        result = int(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            result = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            result = int(number) if math.isfinite(number) and number.is_integer() else None
    if result is None or not INT32_MIN <= result <= INT32_MAX:
        problems.note(f"bad_value:{field}")
        return None
    return result


def as_float(value: Any, field: str, problems: Problems) -> float | None:
    if value is None or value == "":
        return None
    result: float | None = None
    if isinstance(value, bool):
        result = None
    elif isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            result = None
    if result is None or not math.isfinite(result):
        problems.note(f"bad_value:{field}")
        return None
    return result


def as_text(value: Any, field: str, problems: Problems, max_len: int | None = None) -> str | None:
    """A stripped string (numbers are written out); NUL characters, which PostgreSQL refuses, go."""
    if value is None:
        return None
    if isinstance(value, str):
        text = (value.replace("\x00", "") if "\x00" in value else value).strip()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        text = str(value)
    else:
        problems.note(f"bad_value:{field}")
        return None
    if not text:
        return None
    if max_len is not None and len(text) > max_len:
        problems.note(f"too_long:{field}")
        return None
    return text


def as_name(value: Any, problems: Problems, max_len: int) -> str | None:
    """A gateway name exactly as VOS has it: names are identity, so `" gw1"` and `"gw1"` are two
    gateways and neither is stripped. Only NUL goes (PostgreSQL refuses it in text); a number is
    written out; an empty name is no name."""
    if isinstance(value, str):
        text = value.replace("\x00", "") if "\x00" in value else value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        text = str(value)
    elif value is None:
        return None
    else:
        problems.note("bad_value:name")
        return None
    if not text:
        return None
    if len(text) > max_len:
        problems.note("too_long:name")
        return None
    return text


def as_ip_list(value: Any, field: str, problems: Problems) -> list[str] | None:
    """`remoteIps` is a CSV of addresses (`"10.0.0.1,10.0.0.2"`); a JSON list is accepted too."""
    if value is None:
        return None
    parts: list[Any]
    if isinstance(value, str):
        parts = value.replace(";", ",").split(",")
    elif isinstance(value, list):
        parts = value
    else:
        problems.note(f"bad_value:{field}")
        return None
    ips: list[str] = []
    for part in parts:
        if not isinstance(part, str):
            problems.note(f"bad_value:{field}")
            continue
        # Elements never hold a comma: the column round-trips through a CSV in SQL.
        ips.extend(ip for ip in (p.replace("\x00", "").strip() for p in part.split(",")) if ip)
    return ips or None


_PROTOCOLS = {0: "H323", 1: "SIP", "0": "H323", "1": "SIP", "h323": "H323", "sip": "SIP"}


def as_protocol(value: Any, problems: Problems) -> str | None:
    """`protocol` of a routing gateway: 0 → H323, 1 → SIP (names accepted in any case)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        problems.note("bad_value:protocol")
        return None
    key: int | str = value.strip().casefold() if isinstance(value, str) else value
    if key not in _PROTOCOLS:
        problems.note("bad_value:protocol")
        return None
    return _PROTOCOLS[key]
