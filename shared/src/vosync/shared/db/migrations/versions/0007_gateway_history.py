"""Gateway history: transitions, per-minute samples and hourly rollups, partitioned by time

`gateway_transitions` (daily partitions, 90 days by default) holds every online/offline transition the
writer decides, with the outbox id as `event_id`. `gateway_samples` (daily partitions, 30 days) holds
concurrent_calls/asr/acd of every online gateway at most once a minute, keyed by the gateway row id (a
narrow row: ~14 M rows a day for a 10,000-gateway instance). `gateway_samples_hourly` (monthly
partitions, 1 year) holds min/avg/max per gateway and hour. The writer creates partitions ahead and
drops expired ones (retention is a DROP TABLE, never a DELETE). `gateway_sample_marks` says which
(instance, type, minute) was sampled, so a second poll in the same minute costs one conflicting row
instead of 10,000; `gateway_rollup_marks` says which hours are rolled up.

No partition is created here: the writer's maintenance creates them (today - 1 .. today + 2 days) at
start and every minute.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-03 15:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE gateway_transitions (
            instance_id int NOT NULL,
            gateway_type varchar(16) NOT NULL,
            name varchar(255) NOT NULL,
            is_online boolean NOT NULL,
            previous boolean,
            changed_at timestamptz NOT NULL,
            event_id bigint
        ) PARTITION BY RANGE (changed_at)
        """
    )
    op.execute(
        "CREATE INDEX ix_gateway_transitions_gateway"
        " ON gateway_transitions (instance_id, gateway_type, name, changed_at)"
    )
    # The event log pages by event id, optionally per instance.
    op.execute("CREATE INDEX ix_gateway_transitions_event ON gateway_transitions (event_id)")
    op.execute(
        "CREATE INDEX ix_gateway_transitions_instance_event ON gateway_transitions (instance_id, event_id)"
    )
    op.execute(
        """
        CREATE TABLE gateway_samples (
            gateway_id bigint NOT NULL,
            at timestamptz NOT NULL,
            concurrent_calls int,
            asr real,
            acd real,
            CONSTRAINT pk_gateway_samples PRIMARY KEY (gateway_id, at)
        ) PARTITION BY RANGE (at)
        """
    )
    # Rollups read one hour of every gateway: a BRIN on the insert-ordered time costs a few pages.
    op.execute("CREATE INDEX ix_gateway_samples_at ON gateway_samples USING brin (at)")
    op.execute(
        """
        CREATE TABLE gateway_samples_hourly (
            gateway_id bigint NOT NULL,
            at timestamptz NOT NULL,
            samples int NOT NULL,
            calls_min int, calls_avg real, calls_max int,
            asr_min real, asr_avg real, asr_max real,
            acd_min real, acd_avg real, acd_max real,
            CONSTRAINT pk_gateway_samples_hourly PRIMARY KEY (gateway_id, at)
        ) PARTITION BY RANGE (at)
        """
    )
    op.execute(
        """
        CREATE TABLE gateway_sample_marks (
            instance_id int NOT NULL,
            gateway_type varchar(16) NOT NULL,
            at timestamptz NOT NULL,
            CONSTRAINT pk_gateway_sample_marks PRIMARY KEY (instance_id, gateway_type, at)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE gateway_rollup_marks (
            at timestamptz NOT NULL,
            rows int NOT NULL,
            done_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_gateway_rollup_marks PRIMARY KEY (at)
        )
        """
    )


def downgrade() -> None:
    for table in (
        "gateway_rollup_marks",
        "gateway_sample_marks",
        "gateway_samples_hourly",
        "gateway_samples",
        "gateway_transitions",
    ):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
