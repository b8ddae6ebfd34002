"""vos_data_cache.last_read_at: when a reader last used a row that no fetch kept fresh

The writer's cleanup deletes cache rows of non-scheduled requests that nobody used for
VOSYNC_CACHE_RETENTION_S. A fetch moves last_attempt_at and a fresh row is within expires_at, but a
reader served the stored row while fetches fail (poller or bus away) moves neither: the api marks
such a row in last_read_at, at most once per key per touch interval (never a write per read).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 15:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE vos_data_cache ADD COLUMN last_read_at timestamptz")


def downgrade() -> None:
    op.execute("ALTER TABLE vos_data_cache DROP COLUMN last_read_at")
