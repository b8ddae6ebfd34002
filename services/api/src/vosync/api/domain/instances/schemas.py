"""VOS instances as the api shows and accepts them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

# Patterns document what the service checks anyway (and let schema fuzzers generate valid values).
Name = Annotated[
    str,
    Meta(
        min_length=1, max_length=128, pattern=r"^[^\x00]*\S[^\x00]*$", description="unique, shown on the page"
    ),
]
BaseUrl = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=256,
        pattern=r"^https?://([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(:[1-9][0-9]{0,4})?(/[^\s\x00]*)?$",
        description="http(s) URL of the VOS web API, with a host, e.g. http://10.0.0.5",
    ),
]
Description = Annotated[str, Meta(max_length=4000, pattern=r"^[^\x00]*$")]
TimeoutS = Annotated[float, Meta(gt=0, le=3600, description="VOS call timeout; null: VOSYNC_VOS_TIMEOUT_S")]


class Instance(msgspec.Struct):
    id: int
    name: str
    base_url: str
    description: str | None
    enabled: bool
    timeout_s: float | None
    created_at: datetime
    updated_at: datetime


class InstanceList(msgspec.Struct):
    items: list[Instance]
    total: int


class InstanceCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    base_url: BaseUrl
    description: Description | None = None
    enabled: bool = True
    timeout_s: TimeoutS | None = None


class InstancePatch(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields present change; `null` clears description or timeout_s."""

    name: Name | UnsetType = UNSET
    base_url: BaseUrl | UnsetType = UNSET
    description: Description | UnsetType | None = UNSET
    enabled: bool | UnsetType = UNSET
    timeout_s: TimeoutS | UnsetType | None = UNSET
