"""Tables. Columns of `vos_data_cache` and `gateways` follow the older system so its queries carry over."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    REAL,
    BigInteger,
    Boolean,
    Column,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from vosync.shared.db.limits import E164_MAX

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# gateway_rows.raw_data = config item || online item || {"_data_sources": {"config": config item,
# "online": online item}} (the seed's shape; migration 0006); immutable functions only, as a
# generated column requires.
GATEWAY_RAW_DATA_SQL = (
    "coalesce(config_data, '{}'::jsonb) || coalesce(online_data, '{}'::jsonb)"
    " || jsonb_set(jsonb_set('{\"_data_sources\": {}}'::jsonb,"
    " '{_data_sources,config}', coalesce(config_data, 'null'::jsonb)),"
    " '{_data_sources,online}', coalesce(online_data, 'null'::jsonb))"
)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


def _instance_fk() -> Any:
    # The rows VOS reported for an instance mean nothing without it: they go when it goes.
    return mapped_column(ForeignKey("vos_instances.id", ondelete="CASCADE"), nullable=False)


class VosInstance(Base):
    __tablename__ = "vos_instances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vos_uuid: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        unique=True,
        nullable=False,
        default=uuid.uuid4,
        server_default=text("gen_random_uuid()"),
    )
    name: Mapped[str] = mapped_column(String(128), unique=True, nullable=False)
    base_url: Mapped[str] = mapped_column(String(256), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    timeout_s: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class VosDataCache(Base):
    """The last reply of each (instance, API, params); a failure never replaces good data."""

    __tablename__ = "vos_data_cache"
    __table_args__ = (
        UniqueConstraint(
            "vos_instance_id", "api_path", "cache_key", name="uq_vos_data_cache_instance_path_key"
        ),
        Index("ix_vos_data_cache_instance_valid_expires", "vos_instance_id", "is_valid", "expires_at"),
        Index("ix_vos_data_cache_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    vos_instance_id: Mapped[int] = _instance_fk()
    api_path: Mapped[str] = mapped_column(String(255), nullable=False)
    api_name: Mapped[str] = mapped_column(String(128), nullable=False)
    cache_key: Mapped[str] = mapped_column(String(32), nullable=False)
    query_params: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default="{}")
    response_data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # last good reply
    content_hash: Mapped[str | None] = mapped_column(String(32))
    is_valid: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    ret_code: Mapped[int | None] = mapped_column(Integer)
    error_kind: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # last success
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fetch_ms: Mapped[float | None] = mapped_column(Float)
    # Set by the api when it serves the row without a fetch, at most once per touch interval
    # (migration 0006): the writer's cleanup never deletes a row a reader still uses.
    last_read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class Gateway(Base):
    """One mapping (对接) or routing (落地) gateway: config merged with online status.

    The table is `gateway_rows`, where the writer writes and the api reads. `gateways` is a view of
    it (migration 0006) for SQL readers, the seed's `SELECT … FROM gateways ORDER BY synced_at`:
    the same columns, with synced_at / online_synced_at the scope's last confirmed sync (the newer
    of the row's own time and the last successful unfiltered fetch of its config / online API), so
    an unchanged snapshot confirms every row without writing one.
    """

    __tablename__ = "gateway_rows"
    __table_args__ = (
        UniqueConstraint(
            "vos_instance_id", "gateway_type", "gateway_name", name="uq_gateways_instance_type_name"
        ),
        Index("ix_gateways_instance_type_online", "vos_instance_id", "gateway_type", "is_online"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    vos_instance_id: Mapped[int] = _instance_fk()
    gateway_type: Mapped[str] = mapped_column(String(16), nullable=False)
    gateway_name: Mapped[str] = mapped_column(String(255), nullable=False)
    in_config: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    # 'config' (the configured address) or 'online' (the address the online item reports: a dynamic
    # gateway has none in config); null when no address is known.
    ip_source: Mapped[str | None] = mapped_column(String(16))
    port: Mapped[int | None] = mapped_column(Integer)
    protocol: Mapped[str | None] = mapped_column(String(8))
    remote_ips: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    prefix: Mapped[str | None] = mapped_column(Text)
    capacity: Mapped[int | None] = mapped_column(Integer)
    register_type: Mapped[int | None] = mapped_column(Integer)
    lock_type: Mapped[int | None] = mapped_column(Integer)
    is_online: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    asr: Mapped[float | None] = mapped_column(Float)
    acd: Mapped[float | None] = mapped_column(Float)
    concurrent_calls: Mapped[int | None] = mapped_column(Integer)
    online_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The config item is stored out of line, uncompressed (STORAGE EXTERNAL, migration 0003): an
    # online update copies a pointer to it, not the ~3 kB item.
    config_data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    online_data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # {"config": {"api", "synced_at"} | null, "online": {…} | null}, set by the writer when it
    # writes the row: which API each item came from (raw_data's _data_sources holds the items)
    data_sources: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Computed when read (VIRTUAL on PostgreSQL 18+, STORED before): never a third stored copy.
    raw_data: Mapped[dict[str, Any]] = mapped_column(JSONB, Computed(GATEWAY_RAW_DATA_SQL))
    # When the writer last wrote the config / online values; the view `gateways` shows the newer of
    # these and the scope's last confirmed sync.
    synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # config
    online_synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class GatewayEventOutbox(Base):
    """Online transitions committed with the projection; a relay publishes and marks them."""

    __tablename__ = "gateway_event_outbox"
    __table_args__ = (
        Index(
            "ix_gateway_event_outbox_unpublished",
            "id",
            postgresql_where=text("published_at IS NULL AND dead_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    vos_instance_id: Mapped[int] = mapped_column(Integer, nullable=False)
    # 'gateway', or 'phone' (gateway_type '', gateway_name = the e164; published on phone.online)
    entity: Mapped[str] = mapped_column(String(16), nullable=False, server_default=text("'gateway'"))
    gateway_type: Mapped[str] = mapped_column(String(16), nullable=False)
    gateway_name: Mapped[str] = mapped_column(String(255), nullable=False)
    is_online: Mapped[bool] = mapped_column(Boolean, nullable=False)
    previous: Mapped[bool | None] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = _now()
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set aside by the relay: the payload could not become an event (the reason says why).
    dead_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dead_reason: Mapped[str | None] = mapped_column(Text)


# -- history (migration 0007): partitioned by time, partitions made and dropped by the writer ------
# Core tables, not mapped classes: the transitions have no primary key (a partitioned table's key
# must hold the partition column, and nothing reads a transition by key).

gateway_transitions = Table(
    "gateway_transitions",
    Base.metadata,
    Column("instance_id", Integer, nullable=False),
    Column("gateway_type", String(16), nullable=False),
    Column("name", String(255), nullable=False),
    Column("is_online", Boolean, nullable=False),
    Column("previous", Boolean),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("event_id", BigInteger),  # the outbox id: the Nats-Msg-Id and SSE id of the event
    Index("ix_gateway_transitions_gateway", "instance_id", "gateway_type", "name", "changed_at"),
    Index("ix_gateway_transitions_event", "event_id"),
    Index("ix_gateway_transitions_instance_event", "instance_id", "event_id"),
    postgresql_partition_by="RANGE (changed_at)",
)

# Keyed by the gateway row id, not its name: ~14 M rows a day for 10,000 gateways, so every byte
# counts. A gateway deleted and seen again gets a new id (its earlier samples are not shown).
gateway_samples = Table(
    "gateway_samples",
    Base.metadata,
    Column("gateway_id", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),  # the minute of the poll
    Column("concurrent_calls", Integer),
    Column("asr", REAL),
    Column("acd", REAL),
    PrimaryKeyConstraint("gateway_id", "at", name="pk_gateway_samples"),
    Index("ix_gateway_samples_at", "at", postgresql_using="brin"),
    postgresql_partition_by="RANGE (at)",
)

gateway_samples_hourly = Table(
    "gateway_samples_hourly",
    Base.metadata,
    Column("gateway_id", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),  # the hour
    Column("samples", Integer, nullable=False),
    *(
        Column(f"{figure}_{stat}", Integer if figure == "calls" and stat != "avg" else REAL)
        for figure in ("calls", "asr", "acd")
        for stat in ("min", "avg", "max")
    ),
    PrimaryKeyConstraint("gateway_id", "at", name="pk_gateway_samples_hourly"),
    postgresql_partition_by="RANGE (at)",
)

# (instance, type, minute) already sampled: the second poll of a minute inserts one conflicting row.
gateway_sample_marks = Table(
    "gateway_sample_marks",
    Base.metadata,
    Column("instance_id", Integer, nullable=False),
    Column("gateway_type", String(16), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("instance_id", "gateway_type", "at", name="pk_gateway_sample_marks"),
)

gateway_rollup_marks = Table(
    "gateway_rollup_marks",
    Base.metadata,
    Column("at", DateTime(timezone=True), nullable=False),  # an hour rolled up
    Column("rows", Integer, nullable=False),
    Column("done_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("at", name="pk_gateway_rollup_marks"),
)


class Phone(Base):
    """One number GetAllPhoneOnline has listed: online = listed now; kept, offline, once it drops out."""

    __tablename__ = "phones"
    __table_args__ = (
        UniqueConstraint("vos_instance_id", "e164", name="uq_phones_instance_e164"),
        Index("ix_phones_instance_online", "vos_instance_id", "is_online"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    vos_instance_id: Mapped[int] = _instance_fk()
    e164: Mapped[str] = mapped_column(String(E164_MAX), nullable=False)
    is_online: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    online_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    online_synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # status known
    # The last listing that had it, set when it drops out; while online it is the listing's own time
    # (GetAllPhoneOnline's cache row), which the readers use, so an unchanged listing rewrites no row.
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    remote_ip: Mapped[str | None] = mapped_column(String(64))
    local_ip: Mapped[str | None] = mapped_column(String(64))
    current_call: Mapped[int | None] = mapped_column(Integer)
    register_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    update_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    protocol: Mapped[int | None] = mapped_column(Integer)  # 0 H323, 1 SIP
    crypto_type: Mapped[int | None] = mapped_column(Integer)
    product_id: Mapped[str | None] = mapped_column(Text)  # the device's name
    detail_data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # the GetPhoneOnline item
    detail_synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class FeeRateGroup(Base):
    """GetFeeRateGroup item (`name`, `memo`); removed when VOS no longer lists it."""

    __tablename__ = "fee_rate_groups"
    __table_args__ = (UniqueConstraint("vos_instance_id", "name", name="uq_fee_rate_groups_instance_name"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    vos_instance_id: Mapped[int] = _instance_fk()
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    memo: Mapped[str | None] = mapped_column(Text)
    raw_data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class Suite(Base):
    """GetSuite item (套餐); removed when VOS no longer lists it."""

    __tablename__ = "suites"
    __table_args__ = (UniqueConstraint("vos_instance_id", "suite_id", name="uq_suites_instance_suite_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    vos_instance_id: Mapped[int] = _instance_fk()
    suite_id: Mapped[int] = mapped_column(Integer, nullable=False)  # VOS's `id`
    name: Mapped[str | None] = mapped_column(String(255))
    rent_type: Mapped[int | None] = mapped_column(Integer)  # 0 day, 1 month, 2 year, 3 one-off
    rent_period: Mapped[int | None] = mapped_column(Integer)  # seconds when one-off
    rent_fee: Mapped[float | None] = mapped_column(Float)
    min_consumption: Mapped[float | None] = mapped_column(Float)
    lower_consumption: Mapped[float | None] = mapped_column(Float)
    gift_money: Mapped[float | None] = mapped_column(Float)
    nonholonomic_order: Mapped[bool | None] = mapped_column(Boolean)
    memo: Mapped[str | None] = mapped_column(Text)
    raw_data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


TABLES_IN_TRUNCATE_ORDER = (
    "gateway_transitions",
    "gateway_samples",
    "gateway_samples_hourly",
    "gateway_sample_marks",
    "gateway_rollup_marks",
    "gateway_event_outbox",
    "phones",
    "fee_rate_groups",
    "suites",
    "gateway_rows",
    "vos_data_cache",
    "vos_instances",
)
