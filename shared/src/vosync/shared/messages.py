"""The messages on the bus. Every producer and consumer uses these models, never raw dicts."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from vosync.shared.catalogue import GatewayType


def utcnow() -> datetime:
    return datetime.now(UTC)


class ErrorKind(StrEnum):
    TIMEOUT = "timeout"
    CONNECT = "connect"
    HTTP_STATUS = "http_status"
    BAD_JSON = "bad_json"
    EMPTY_BODY = "empty_body"
    RET_CODE = "ret_code"
    # The reply exceeds VOSYNC_VOS_MAX_REPLY_BYTES, or the result carrying it exceeds what the bus
    # takes: the failure result is published instead, so the cache row says why.
    TOO_LARGE = "too_large"

    @property
    def is_transport(self) -> bool:
        """Failures of the path to VOS (back off), as opposed to VOS answering with an error."""
        return self in {ErrorKind.TIMEOUT, ErrorKind.CONNECT, ErrorKind.HTTP_STATUS}


class FetchReason(StrEnum):
    SCHEDULE = "schedule"
    ON_DEMAND = "on_demand"
    SYNC = "sync"


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class FetchRequest(_Message):
    """Asks any poller to fetch one API of one instance now (core NATS request-reply)."""

    instance_id: int
    api_name: str
    params: dict[str, Any] = Field(default_factory=dict)
    reason: FetchReason = FetchReason.ON_DEMAND


class FetchResult(_Message):
    """One outcome of one VOS call, success or failure."""

    instance_id: int
    api_name: str
    api_path: str
    params: dict[str, Any] = Field(default_factory=dict)
    cache_key: str
    ok: bool
    ret_code: int | None = None
    error: str | None = None
    error_kind: ErrorKind | None = None
    response: dict[str, Any] | None = None
    fetched_at: datetime
    duration_ms: float = 0.0
    poller_id: str = ""
    lease_revision: int | None = None
    reason: FetchReason = FetchReason.SCHEDULE
    # The reply's JSON text as it came over the bus, when a consumer decoded only the envelope
    # (codec.decode_result_lazily); `response` is then None until the consumer parses it.
    _reply_json: bytes | None = PrivateAttr(default=None)

    @property
    def reply_json(self) -> bytes | None:
        return self._reply_json

    @property
    def msg_id(self) -> str:
        """Deduplication id: a re-publish of the same fetch carries the same id."""
        micros = int(self.fetched_at.timestamp() * 1_000_000)
        return f"{self.instance_id}.{self.cache_key}.{micros}.{self.poller_id}"


class GatewayOnlineEvent(_Message):
    """A gateway went on- or offline (one event per transition)."""

    event_id: int | None = None
    instance_id: int
    gateway_type: GatewayType
    gateway_name: str
    is_online: bool
    previous: bool | None = None
    changed_at: datetime
    asr: float | None = None
    acd: float | None = None
    concurrent_calls: int | None = None


class PhoneOnlineEvent(_Message):
    """A phone registered (went online) or dropped out of GetAllPhoneOnline (one event per transition)."""

    event_id: int | None = None
    instance_id: int
    e164: str
    is_online: bool
    previous: bool | None = None  # None: the phone's first observed status
    changed_at: datetime
    remote_ip: str | None = None
    concurrent_calls: int | None = None


class CacheChanged(_Message):
    """Cache keys of one instance whose data a commit changed (core NATS, for in-process caches).

    `synced_keys`: keys whose stored reply a commit confirmed unchanged (only `synced_at` moved).
    Caches of the data itself ignore them; a cache of a reply that shows when VOS was last asked
    (the gateway list's synced_at / online_synced_at) must drop it, or that field would freeze."""

    instance_id: int
    cache_keys: list[str]
    synced_keys: list[str] = Field(default_factory=list)
