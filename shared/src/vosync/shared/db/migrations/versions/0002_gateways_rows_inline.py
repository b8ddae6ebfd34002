"""gateways: rows up to 8 kB stay inline and uncompressed

A gateway row carries its config item (~2.5 kB for VOS's ~110 fields), its online item and raw_data
(both merged): ~6 kB. With the default TOAST target (~2 kB) every insert and update compresses and
moves those values out of line; a 10,000-gateway snapshot spends most of its write time there.
Keeping such rows inline (a row per page) makes the writer's set-based writes 2-3 times faster;
larger rows are still compressed as usual.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 14:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE gateways SET (toast_tuple_target = 8160)")


def downgrade() -> None:
    op.execute("ALTER TABLE gateways RESET (toast_tuple_target)")
