"""Phone, fee-rate-group and suite replies. The Phones tab of the page depends on these shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

ProtocolName = Literal["H323", "SIP"]


class PhoneCounts(msgspec.Struct):
    total: int
    online: int
    offline: int


class PhoneItem(msgspec.Struct):
    e164: str
    is_online: bool
    remote_ip: str | None
    concurrent_calls: int | None  # VOS `currentCall`
    register_time: datetime | None
    product_id: str | None  # the device's name
    # The last GetAllPhoneOnline that listed it: the newest listing while online, else the one
    # before it dropped out.
    last_seen_at: datetime | None


class PhoneList(msgspec.Struct):
    instance_id: int
    instance_name: str
    total: int  # rows matching the filters
    limit: int
    offset: int
    counts: PhoneCounts  # the whole instance, no filters
    synced_at: datetime | None  # the newest successful GetAllPhoneOnline
    items: list[PhoneItem]


class PhoneDetail(PhoneItem):
    instance_id: int
    instance_name: str
    local_ip: str | None
    update_time: datetime | None
    protocol: ProtocolName | None
    crypto_type: int | None
    online_changed_at: datetime | None
    details_synced_at: datetime | None  # the GetPhoneOnline reply the details come from
    raw_data: dict[str, Any]  # that reply's item, as VOS sent it
    created_at: datetime
    updated_at: datetime


class FeeRateGroupItem(msgspec.Struct):
    name: str
    memo: str | None
    synced_at: datetime


class FeeRateGroupList(msgspec.Struct):
    instance_id: int
    instance_name: str
    total: int
    items: list[FeeRateGroupItem]


class SuiteItem(msgspec.Struct):
    id: int  # VOS's suite id
    name: str | None
    rent_type: int | None  # 0 day, 1 month, 2 year, 3 one-off
    rent_period: int | None  # seconds when one-off
    rent_fee: float | None
    min_consumption: float | None
    lower_consumption: float | None
    gift_money: float | None
    nonholonomic_order: bool | None
    memo: str | None
    raw_data: dict[str, Any]
    synced_at: datetime


class SuiteList(msgspec.Struct):
    instance_id: int
    instance_name: str
    total: int
    items: list[SuiteItem]
