"""gateway_event_outbox: a row the relay cannot turn into an event is set aside, with its reason

A row whose payload fails validation or encoding used to stay at the head of the relay for ever,
blocking every later event. The relay now marks it (`dead_at`, `dead_reason`), copies it to the
dead-letter stream and goes on; the unpublished index leaves marked rows out.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 11:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE gateway_event_outbox ADD COLUMN dead_at timestamptz")
    op.execute("ALTER TABLE gateway_event_outbox ADD COLUMN dead_reason text")
    op.execute("DROP INDEX IF EXISTS ix_gateway_event_outbox_unpublished")
    op.execute(
        "CREATE INDEX ix_gateway_event_outbox_unpublished ON gateway_event_outbox (id)"
        " WHERE published_at IS NULL AND dead_at IS NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_gateway_event_outbox_unpublished")
    op.execute(
        "CREATE INDEX ix_gateway_event_outbox_unpublished ON gateway_event_outbox (id)"
        " WHERE published_at IS NULL"
    )
    op.execute("ALTER TABLE gateway_event_outbox DROP COLUMN dead_reason")
    op.execute("ALTER TABLE gateway_event_outbox DROP COLUMN dead_at")
