"""Replies of the history routes. The page's drawer depends on these shapes: change them together."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from vosync.api.domain.gateways.schemas import GatewayTypeName

Resolution = Literal["minute", "hour"]


class TransitionItem(msgspec.Struct):
    is_online: bool
    previous: bool | None
    changed_at: datetime
    event_id: str | None


class Uptime(msgspec.Struct, rename={"h1": "1h", "h24": "24h", "d7": "7d"}):
    """Online fraction (0-1) of the observed time in the last hour, day and week; null: not observed."""

    h1: float | None
    h24: float | None
    d7: float | None


class Figures(msgspec.Struct):
    concurrent_calls: int | float | None
    asr: float | None
    acd: float | None


class Sample(msgspec.Struct, omit_defaults=True):
    """One minute (raw), or one hour: the averages, with min and max."""

    at: datetime
    concurrent_calls: int | float | None
    asr: float | None
    acd: float | None
    min: Figures | None = None
    max: Figures | None = None


class GatewayHistory(msgspec.Struct):
    instance_id: int
    gateway_type: GatewayTypeName
    name: str
    is_online: bool
    since: datetime
    until: datetime
    transitions: list[TransitionItem]  # newest first, within [since, until]
    uptime: Uptime
    flaps_24h: int
    resolution: Resolution
    samples: list[Sample]  # oldest first
