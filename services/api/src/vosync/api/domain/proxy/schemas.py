"""The cached VOS proxy's reply, as documented in the OpenAPI schema (the bytes are built by hand)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

DataSource = Literal["database", "vos_api", "stale"]


class ProxyReply(msgspec.Struct):
    """`data` is the VOS reply itself, so `res.data.data.infoGatewayMappings` works as before."""

    success: bool
    data: dict[str, Any]
    error: str | None
    data_source: DataSource
    synced_at: datetime | None
    expires_at: datetime | None
    age_s: float | None
    instance_name: str
    # True when the reply is past expires_at but inside the API's stale-while-revalidate window
    # (data_source "database", with `age_s`): one background fetch is refreshing it right now.
    revalidating: bool = False
