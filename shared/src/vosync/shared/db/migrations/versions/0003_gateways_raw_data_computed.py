"""gateways: raw_data computed from config_data, online_data and data_sources; config out of line

raw_data (`{…config, …online, "_data_sources": …}`) was a third stored copy of the JSON a row already
holds, rewritten with every online change: an online snapshot of 10,000 gateways rewrote ~6 kB per
row. It becomes a generated column, VIRTUAL on PostgreSQL 18 and later (computed when read; only a
single gateway's detail reads it), STORED on older servers (written as before, slower). The
`_data_sources` part moves to its own small column, `data_sources`, which the writer sets.

The config item (~2.5-3.5 kB) is stored out of line and uncompressed (STORAGE EXTERNAL, the default
TOAST target instead of 0002's 8 kB one), so that an update of a row's online columns copies a
pointer to it instead of the item itself.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 16:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_VIRTUAL_SINCE = 180_000  # server_version_num of PostgreSQL 18
# As the model declares it at this revision (a migration keeps its own copy: it must not change when
# the model does).
_RAW_DATA = (
    "coalesce(config_data, '{}'::jsonb) || coalesce(online_data, '{}'::jsonb)"
    " || jsonb_set('{}'::jsonb, '{_data_sources}',"
    ' coalesce(data_sources, \'{"config": null, "online": null}\'::jsonb))'
)


def _generated_kind() -> str:
    version = op.get_bind().exec_driver_sql("SHOW server_version_num").scalar_one()
    return "VIRTUAL" if int(version) >= _VIRTUAL_SINCE else "STORED"


def upgrade() -> None:
    op.execute("ALTER TABLE gateways RESET (toast_tuple_target)")
    op.execute("ALTER TABLE gateways ADD COLUMN data_sources jsonb")
    op.execute("UPDATE gateways SET data_sources = raw_data -> '_data_sources'")
    op.execute("ALTER TABLE gateways DROP COLUMN raw_data")
    op.execute(
        f"ALTER TABLE gateways ADD COLUMN raw_data jsonb "
        f"GENERATED ALWAYS AS ({_RAW_DATA}) {_generated_kind()}"
    )
    op.execute("ALTER TABLE gateways ALTER COLUMN config_data SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.execute("ALTER TABLE gateways ALTER COLUMN config_data SET STORAGE EXTENDED")
    op.execute("ALTER TABLE gateways ADD COLUMN raw_data_stored jsonb NOT NULL DEFAULT '{}'::jsonb")
    op.execute("UPDATE gateways SET raw_data_stored = raw_data")
    op.execute("ALTER TABLE gateways DROP COLUMN raw_data")
    op.execute("ALTER TABLE gateways RENAME COLUMN raw_data_stored TO raw_data")
    op.execute("ALTER TABLE gateways DROP COLUMN data_sources")
    op.execute("ALTER TABLE gateways SET (toast_tuple_target = 8160)")
