"""phones, fee_rate_groups, suites; gateway_event_outbox.entity (phone transitions share the outbox)

`phones`: one row per (instance, e164) ever listed by GetAllPhoneOnline; online = listed now, a
phone that drops out stays, offline, with `last_seen_at`. Details (GetPhoneOnline) in their columns.
`fee_rate_groups` (GetFeeRateGroup) and `suites` (GetSuite) follow VOS, removals included.
`gateway_event_outbox.entity`: 'gateway' (the rows so far) or 'phone' (gateway_name = e164).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 15:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _instance() -> sa.Column[int]:
    return sa.Column(
        "vos_instance_id", sa.Integer(), sa.ForeignKey("vos_instances.id", ondelete="CASCADE"), nullable=False
    )


def _stamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "phones",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        _instance(),
        sa.Column("e164", sa.String(64), nullable=False),
        sa.Column("is_online", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("online_changed_at", sa.DateTime(timezone=True)),
        sa.Column("online_synced_at", sa.DateTime(timezone=True)),
        sa.Column("last_seen_at", sa.DateTime(timezone=True)),
        sa.Column("remote_ip", sa.String(64)),
        sa.Column("local_ip", sa.String(64)),
        sa.Column("current_call", sa.Integer()),
        sa.Column("register_time", sa.DateTime(timezone=True)),
        sa.Column("update_time", sa.DateTime(timezone=True)),
        sa.Column("protocol", sa.Integer()),
        sa.Column("crypto_type", sa.Integer()),
        sa.Column("product_id", sa.Text()),
        sa.Column("detail_data", postgresql.JSONB()),
        sa.Column("detail_synced_at", sa.DateTime(timezone=True)),
        *_stamps(),
        sa.UniqueConstraint("vos_instance_id", "e164", name="uq_phones_instance_e164"),
    )
    op.create_index("ix_phones_instance_online", "phones", ["vos_instance_id", "is_online"])
    op.create_table(
        "fee_rate_groups",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        _instance(),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("memo", sa.Text()),
        sa.Column("raw_data", postgresql.JSONB(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        *_stamps(),
        sa.UniqueConstraint("vos_instance_id", "name", name="uq_fee_rate_groups_instance_name"),
    )
    op.create_table(
        "suites",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        _instance(),
        sa.Column("suite_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255)),
        sa.Column("rent_type", sa.Integer()),
        sa.Column("rent_period", sa.Integer()),
        sa.Column("rent_fee", sa.Float()),
        sa.Column("min_consumption", sa.Float()),
        sa.Column("lower_consumption", sa.Float()),
        sa.Column("gift_money", sa.Float()),
        sa.Column("nonholonomic_order", sa.Boolean()),
        sa.Column("memo", sa.Text()),
        sa.Column("raw_data", postgresql.JSONB(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        *_stamps(),
        sa.UniqueConstraint("vos_instance_id", "suite_id", name="uq_suites_instance_suite_id"),
    )
    op.add_column(
        "gateway_event_outbox",
        sa.Column("entity", sa.String(16), server_default=sa.text("'gateway'"), nullable=False),
    )


def downgrade() -> None:
    op.execute("DELETE FROM gateway_event_outbox WHERE entity <> 'gateway'")
    op.drop_column("gateway_event_outbox", "entity")
    op.drop_table("suites")
    op.drop_table("fee_rate_groups")
    op.drop_index("ix_phones_instance_online", table_name="phones")
    op.drop_table("phones")
