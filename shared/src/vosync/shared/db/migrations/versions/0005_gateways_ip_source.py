"""gateways.ip_source: where ip_address / remote_ips come from ('config' or 'online')

A dynamic gateway (registerType 1) has `remoteIps: ""` in its config; the address it registered
from is only in its online item. The writer now uses that address when the config has none, and
says so in `ip_source` (null: no address known).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 11:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE gateways ADD COLUMN ip_source varchar(16)")
    # Until now the address came from config, or from the online item of a gateway not in config.
    op.execute(
        "UPDATE gateways SET ip_source = CASE WHEN in_config THEN 'config' ELSE 'online' END"
        " WHERE ip_address IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE gateways DROP COLUMN ip_source")
