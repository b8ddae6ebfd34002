"""Every setting of every service, read from `VOSYNC_*` environment variables (one place, one prefix)."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from vosync.shared.catalogue import Catalogue, UnknownApiError, WriteApiError, known_api_names

Role = Literal["read", "admin"]


def _default_instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VOSYNC_", extra="ignore", frozen=True)

    # -- infrastructure ------------------------------------------------------------------------
    nats_url: str | None = Field(None, description="NATS server(s), comma separated; unset: embedded")
    nats_user: str | None = None
    nats_password: str | None = None
    nats_token: str | None = None
    nats_creds: Path | None = Field(None, description="a .creds file (JWT + nkey seed)")
    nats_tls_ca: Path | None = None
    nats_tls_cert: Path | None = None
    nats_tls_key: Path | None = None
    stream_replicas: int = Field(1, ge=1, le=5)
    database_url: str | None = Field(None, description="PostgreSQL URL; unset: embedded")
    data_dir: Path = Path(".vosync-data")

    # -- api -----------------------------------------------------------------------------------
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=0, le=65535)
    auth: Literal["required", "off"] = "required"
    api_keys: Annotated[dict[str, Role], NoDecode] = Field(default_factory=dict)
    api_fetch_timeout_s: float = Field(15.0, gt=0)
    api_max_body_bytes: int = Field(64 * 1024, gt=0)
    api_hot_cache_max_bytes: int = Field(
        256 * 1024 * 1024, ge=0, description="in-process cache of hot proxy replies; 0 disables it"
    )
    api_list_cache_max_bytes: int = Field(
        64 * 1024 * 1024, ge=0, description="in-process cache of gateway list replies; 0 disables it"
    )
    api_failure_backoff_s: float = Field(
        2.0, ge=0, description="after a failed fetch, serve stale/errors this long before asking again"
    )
    api_sse_keepalive_s: float = Field(15.0, gt=0)
    api_refresh_rate_per_minute: int = Field(
        60, gt=0, description="forced refreshes and syncs one client may ask per minute; more: 429"
    )
    api_refresh_cooldown_s: float = Field(
        5.0, ge=0, description="a forced refresh of a key within this long of the last one shares its result"
    )
    # RFC 5861 stale-while-revalidate: per API, how long after expires_at a cached read still gets
    # the stored reply at once while one background fetch refreshes it. An API not named here uses
    # its poll interval (the poller refreshes it within that anyway); 0 turns it off for that API.
    api_stale_while_revalidate_s: Annotated[dict[str, float], NoDecode] = Field(default_factory=dict)

    # -- poller --------------------------------------------------------------------------------
    poller_id: str = Field(default_factory=_default_instance_id)
    poller_instances: Annotated[list[int] | None, NoDecode] = None
    lease_ttl_s: float = Field(15.0, ge=1)
    vos_timeout_s: float = Field(10.0, gt=0)
    vos_max_concurrency: int = Field(2, ge=1)
    poll_jitter: float = Field(0.1, ge=0, le=0.5)
    backoff_base_s: float = Field(2.0, gt=0)
    backoff_max_s: float = Field(60.0, gt=0)
    backoff_after_failures: int = Field(3, ge=1)
    vos_max_reply_bytes: int = Field(
        30 * 1024 * 1024,
        ge=1024,
        description=(
            "the largest VOS reply the poller reads; a larger one is a `too_large` failure. The poller"
            " refuses to start when the NATS server's max_payload (or the streams' 32 MiB message"
            " limit) is below this plus 64 KiB for the result envelope"
        ),
    )

    phone_detail_batch_size: int = Field(
        200, ge=1, le=5000, description="numbers per GetPhoneOnline call (its `e164s`)"
    )
    phone_detail_max_per_poll: int = Field(
        2000,
        ge=0,
        description=(
            "the most numbers whose details one GetAllPhoneOnline poll asks for (new ones first, then"
            " the round-robin refresh); 0 turns detail fetching off"
        ),
    )
    phone_detail_refresh_per_poll: int = Field(
        200,
        ge=0,
        description="of those, already known online numbers refreshed per poll, in round-robin order",
    )

    # -- writer --------------------------------------------------------------------------------
    writer_batch_size: int = Field(256, ge=1, le=10_000)
    writer_max_deliver: int = Field(5, ge=2)
    writer_nak_delay_s: float = Field(2.0, ge=0)
    writer_ack_wait_s: float = Field(60.0, gt=0)
    # History (issue 20): transitions, per-minute samples, hourly rollups; partitions made ahead and
    # dropped when older than these by the writer's maintenance (every minute, any number of writers).
    history_enabled: bool = Field(True, description="write gateway transitions and samples (false: none)")
    history_transitions_days: int = Field(90, ge=1, le=3660)
    history_samples_days: int = Field(30, ge=1, le=3660)
    history_rollups_days: int = Field(365, ge=1, le=3660)
    metrics_gateway_series: bool = Field(
        False, description="vosync_gateway_online per gateway on the writer's /metrics (one series each)"
    )
    # Retention, enforced by the writer's periodic cleanup (writer/cleanup.py). The api reads
    # cache_retention_s too: it marks a cache row it serves without a fetch (last_read_at) often
    # enough that the cleanup never takes a row a reader still uses.
    writer_cleanup_interval_s: float = Field(
        3600.0, gt=0, description="how often the writer deletes rows past their retention"
    )
    writer_cleanup_batch_rows: int = Field(
        1000, ge=1, le=100_000, description="rows deleted per statement (short locks, whatever the backlog)"
    )
    outbox_retention_s: float = Field(
        7 * 86400.0, gt=0, description="published gateway_event_outbox rows are deleted this long after"
    )
    outbox_dead_retention_s: float = Field(
        30 * 86400.0,
        gt=0,
        description="outbox rows set aside as dead (never published) are deleted this long after",
    )
    cache_retention_s: float = Field(
        7 * 86400.0,
        ge=60,
        description=(
            "a vos_data_cache row of a non-scheduled request nobody fetched, read or kept fresh for"
            " this long is deleted; rows of the scheduled (unfiltered) requests are never deleted"
        ),
    )

    # -- catalogue overrides -------------------------------------------------------------------
    poll_intervals: Annotated[dict[str, float], NoDecode] = Field(default_factory=dict)
    cache_ttls: Annotated[dict[str, float], NoDecode] = Field(default_factory=dict)

    # -- operations ----------------------------------------------------------------------------
    ops_host: str = "127.0.0.1"
    ops_port: int = Field(0, ge=0, le=65535, description="/health and /metrics of poller and writer")
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"

    @field_validator("api_keys", mode="before")
    @classmethod
    def _parse_api_keys(cls, value: Any) -> Any:
        """`key:role,key2:role` or a JSON object; a key without a role reads only."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if not text:
            return {}
        if text.startswith("{"):
            return json.loads(text)
        keys: dict[str, str] = {}
        for item in text.split(","):
            key, _, role = item.strip().partition(":")
            if not key:
                raise ValueError("VOSYNC_API_KEYS: empty key; use key:role,key2:role")
            keys[key] = role or "read"
        return keys

    @field_validator("poller_instances", mode="before")
    @classmethod
    def _parse_instances(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return None
            if text.startswith("["):
                return json.loads(text)
            try:
                return [int(part) for part in text.split(",") if part.strip()]
            except ValueError as exc:
                raise ValueError("VOSYNC_POLLER_INSTANCES must be instance ids like 1,5") from exc
        return value

    @field_validator("poll_intervals", "cache_ttls", "api_stale_while_revalidate_s", mode="before")
    @classmethod
    def _parse_json_map(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value or "{}")
            except json.JSONDecodeError as exc:
                raise ValueError(f'must be a JSON object like {{"GetGatewayMapping": 60}} ({exc})') from None
            if not isinstance(value, dict):
                raise ValueError('must be a JSON object like {"GetGatewayMapping": 60}')
        return value

    @field_validator("poll_intervals", "cache_ttls")
    @classmethod
    def _check_api_seconds(cls, value: dict[str, float]) -> dict[str, float]:
        return _seconds_per_api(value, lambda seconds: seconds > 0, "> 0")

    @field_validator("api_stale_while_revalidate_s")
    @classmethod
    def _check_grace_seconds(cls, value: dict[str, float]) -> dict[str, float]:
        return _seconds_per_api(value, lambda seconds: seconds >= 0, ">= 0 (0 turns it off)")

    def stale_while_revalidate_s(self, api_name: str) -> float:
        """The grace window of one API: its setting, else its poll interval, else 0 (on demand)."""
        if api_name in self.api_stale_while_revalidate_s:
            return self.api_stale_while_revalidate_s[api_name]
        try:
            interval = self.catalogue.spec(api_name).poll_interval_s
        except (UnknownApiError, WriteApiError):  # never served from the cache anyway
            return 0.0
        return interval or 0.0

    @field_validator("database_url")
    @classmethod
    def _asyncpg_driver(cls, value: str | None) -> str | None:
        """Accept plain `postgresql://` URLs; the services talk through asyncpg."""
        if value is None:
            return None
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+asyncpg://" + value.removeprefix(prefix)
        if not value.startswith("postgresql+asyncpg://"):
            raise ValueError("VOSYNC_DATABASE_URL must be a postgresql:// URL")
        return value

    @model_validator(mode="after")
    def _backoff_bounds(self) -> Settings:
        if self.backoff_max_s < self.backoff_base_s:
            raise ValueError("VOSYNC_BACKOFF_MAX_S must be >= VOSYNC_BACKOFF_BASE_S")
        return self

    @property
    def cache_read_touch_s(self) -> float:
        """How often the api may mark one cache row as read (last_read_at): far inside the cache
        retention, so a row in use is marked within it, and at most once an hour, so a read is
        never a write."""
        return min(3600.0, self.cache_retention_s / 10)

    @cached_property
    def catalogue(self) -> Catalogue:
        return Catalogue(self.poll_intervals, self.cache_ttls)

    def require_nats_url(self) -> str:
        if not self.nats_url:
            raise SettingsError("VOSYNC_NATS_URL is not set (e.g. nats://127.0.0.1:4222)")
        return self.nats_url

    def require_database_url(self) -> str:
        if not self.database_url:
            raise SettingsError("VOSYNC_DATABASE_URL is not set (e.g. postgresql://user@host:5432/vosync)")
        return self.database_url


def _seconds_per_api(
    value: dict[str, float], allowed: Callable[[float], bool], rule: str
) -> dict[str, float]:
    """`value` if every key is a known VOS API and every value `allowed`; else the first offence."""
    known = known_api_names()
    for name, seconds in value.items():
        if name not in known:
            raise ValueError(f"unknown VOS API {name!r} (known: {', '.join(sorted(known))})")
        if not allowed(seconds):
            raise ValueError(f"{name}: seconds must be {rule}, got {seconds}")
    return value


class SettingsError(RuntimeError):
    """A setting is missing or unusable; the message names the variable."""


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment; a bad value raises SettingsError with one readable sentence."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"VOSYNC_{'_'.join(str(p) for p in err['loc'][:1]).upper()}: {err['msg']}"
            if err["loc"]
            else err["msg"]
            for err in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from None
