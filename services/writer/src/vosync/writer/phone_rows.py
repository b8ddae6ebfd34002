"""The rows of phone, fee-rate-group and suite replies (reference §3.5–3.7): pure, lenient parsing.

Only the keys VOS sends are read: GetAllPhoneOnline `e164s` (String[]); GetPhoneOnline
`infoPhoneOnlines` [{e164, currentCall, remoteIp, localIp, registerTime ms, updateTime ms, protocol,
cryptoType, productId}]; GetFeeRateGroup `infoFeeRateGroups` [{name, memo}]; GetSuite `infoSuites`
[{id, name, rentType, rentPeriod, rentFee, minConsumption, lowerConsumption, giftMoney,
nonholonomicOrder, memo, …}]. A value that cannot be read is None and counted as a problem; an item
without its identity (e164, name, id) is skipped and counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from vosync.shared.db.limits import E164_MAX
from vosync.writer.jsontext import pg_json
from vosync.writer.reply_lists import K, R, keyed_rows, reply_list
from vosync.writer.vos_items import Item, Problems, as_float, as_int, as_name, as_text

NAME_MAX = 255
IP_MAX = 64
# Epoch ms VOS may send; outside this a "time" is garbage (and PostgreSQL's range ends anyway).
_MS_MIN, _MS_MAX = 0, 253_402_300_799_999  # 9999-12-31


@dataclass(frozen=True, slots=True)
class PhoneDetailRow:
    e164: str
    current_call: int | None
    remote_ip: str | None
    local_ip: str | None
    register_time: datetime | None
    update_time: datetime | None
    protocol: int | None  # 0 H323, 1 SIP
    crypto_type: int | None
    product_id: str | None
    item_json: str


@dataclass(frozen=True, slots=True)
class FeeRateGroupRow:
    name: str
    memo: str | None
    item_json: str


@dataclass(frozen=True, slots=True)
class SuiteRow:
    suite_id: int
    name: str | None
    rent_type: int | None
    rent_period: int | None
    rent_fee: float | None
    min_consumption: float | None
    lower_consumption: float | None
    gift_money: float | None
    nonholonomic_order: bool | None
    memo: str | None
    item_json: str


T = TypeVar("T")


@dataclass(slots=True)
class Parsed(Generic[T]):
    """The rows of one reply; `usable` is False when the list itself is missing or not a list (the
    reply then changes nothing: it is not "everything was removed")."""

    usable: bool
    rows: list[T] = field(default_factory=list)
    problems: Problems = field(default_factory=Problems)


def _ms_time(value: Any, field_name: str, problems: Problems) -> datetime | None:
    """Epoch ms as an aware datetime; 0 (never) is None."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    number = as_float(value, field_name, problems)
    if number is None:
        return None
    if not _MS_MIN <= number <= _MS_MAX:
        problems.note(f"bad_value:{field_name}")
        return None
    return datetime.fromtimestamp(number / 1000, UTC) if number else None


def _bool(value: Any, field_name: str, problems: Problems) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if value in (0, 1, "0", "1", "true", "false"):
        return value in (1, "1", "true")
    problems.note(f"bad_value:{field_name}")
    return None


def _usable_list(parsed: Parsed[Any], response: Any, list_key: str) -> list[Any] | None:
    """The reply's list; `parsed` is usable when there is one."""
    found = reply_list(response, list_key, parsed.problems)
    parsed.usable = found is not None
    return None if found is None else found[1]


def parse_listing(response: Any, list_key: str = "e164s") -> Parsed[str]:
    """GetAllPhoneOnline: the listed numbers, each once, in VOS order."""
    parsed: Parsed[str] = Parsed(False)
    items = _usable_list(parsed, response, list_key)
    if items is None:
        return parsed
    seen: dict[str, None] = {}
    for raw in items:
        number = as_name(raw, parsed.problems, E164_MAX) if not isinstance(raw, dict | list) else None
        if number is None:
            parsed.problems.note("bad_value:e164")
        elif number in seen:
            parsed.problems.note("duplicate_e164")
        else:
            seen[number] = None
    parsed.rows = list(seen)
    return parsed


def parse_details(response: Any, list_key: str = "infoPhoneOnlines") -> Parsed[PhoneDetailRow]:
    """GetPhoneOnline: one row per number (the last item of a number wins)."""
    return _keyed_rows(response, list_key, "e164", lambda i, p: as_name(i.get("e164"), p, E164_MAX), _detail)


def parse_fee_rate_groups(response: Any, list_key: str = "infoFeeRateGroups") -> Parsed[FeeRateGroupRow]:
    return _keyed_rows(response, list_key, "name", lambda i, p: as_name(i.get("name"), p, NAME_MAX), _group)


def parse_suites(response: Any, list_key: str = "infoSuites") -> Parsed[SuiteRow]:
    return _keyed_rows(response, list_key, "id", lambda i, p: as_int(i.get("id"), "id", p), _suite)


def _keyed_rows(
    response: Any,
    list_key: str,
    identity: str,
    key_of: Callable[[Item, Problems], K | None],
    build: Callable[[K, Item, Problems], R],
) -> Parsed[R]:
    """The reply's items as rows (`reply_lists.keyed_rows`)."""
    parsed: Parsed[R] = Parsed(False)
    items = _usable_list(parsed, response, list_key)
    if items is None:
        return parsed
    parsed.rows = keyed_rows(items, parsed.problems, identity, key_of, lambda _, key, i, p: build(key, i, p))
    return parsed


def _detail(e164: str, item: Item, problems: Problems) -> PhoneDetailRow:
    return PhoneDetailRow(
        e164=e164,
        current_call=as_int(item.get("currentCall"), "currentCall", problems),
        remote_ip=as_text(item.get("remoteIp"), "remoteIp", problems, IP_MAX),
        local_ip=as_text(item.get("localIp"), "localIp", problems, IP_MAX),
        register_time=_ms_time(item.get("registerTime"), "registerTime", problems),
        update_time=_ms_time(item.get("updateTime"), "updateTime", problems),
        protocol=as_int(item.get("protocol"), "protocol", problems),
        crypto_type=as_int(item.get("cryptoType"), "cryptoType", problems),
        product_id=as_text(item.get("productId"), "productId", problems),
        item_json=pg_json(item.raw),
    )


def _group(name: str, item: Item, problems: Problems) -> FeeRateGroupRow:
    return FeeRateGroupRow(name, as_text(item.get("memo"), "memo", problems), pg_json(item.raw))


def _suite(suite_id: int, item: Item, problems: Problems) -> SuiteRow:
    return SuiteRow(
        suite_id=suite_id,
        name=as_text(item.get("name"), "name", problems, NAME_MAX),
        rent_type=as_int(item.get("rentType"), "rentType", problems),
        rent_period=as_int(item.get("rentPeriod"), "rentPeriod", problems),
        rent_fee=as_float(item.get("rentFee"), "rentFee", problems),
        min_consumption=as_float(item.get("minConsumption"), "minConsumption", problems),
        lower_consumption=as_float(item.get("lowerConsumption"), "lowerConsumption", problems),
        gift_money=as_float(item.get("giftMoney"), "giftMoney", problems),
        nonholonomic_order=_bool(item.get("nonholonomicOrder"), "nonholonomicOrder", problems),
        memo=as_text(item.get("memo"), "memo", problems),
        item_json=pg_json(item.raw),
    )
