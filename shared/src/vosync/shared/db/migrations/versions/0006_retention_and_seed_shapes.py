"""Retention (vos_data_cache.last_read_at) and the seed's shapes (gateways: a view over gateway_rows)

1. vos_data_cache.last_read_at: the writer's cleanup deletes cache rows of non-scheduled requests
   that nobody used for VOSYNC_CACHE_RETENTION_S. A fetch moves last_attempt_at and a fresh row is
   within expires_at, but a reader served the stored row while fetches fail (poller or bus away)
   moves neither: the api marks such a row in last_read_at, at most once per key per touch interval
   (never a write per read).
2. raw_data's `_data_sources` holds the raw config and online items, as the seed shows
   (`{…config, …online, "_data_sources": {"config": <item>, "online": <item>}}`); it held
   `{api, synced_at}` per side (still in the data_sources column). Still a generated column:
   VIRTUAL on PostgreSQL 18+, STORED before (where it now stores the config item twice).
3. `SELECT … FROM gateways ORDER BY synced_at` shows sync health, as the seed says: the table becomes
   `gateway_rows` (where the writer writes) and `gateways` a view of it whose `synced_at` /
   `online_synced_at` are the scope's last confirmed sync, i.e. the newer of the row's own time (when
   the writer last changed it) and the last successful fetch of the unfiltered config / online API
   of its instance and type (the vos_data_cache row of that key). An unchanged snapshot writes no
   gateway row, yet every row it confirms shows its time. The view is automatically updatable
   except for those two columns.

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

_VIRTUAL_SINCE = 180_000  # server_version_num of PostgreSQL 18
# As the model declares them at this revision (a migration keeps its own copy).
_RAW_DATA = (
    "coalesce(config_data, '{}'::jsonb) || coalesce(online_data, '{}'::jsonb)"
    " || jsonb_set(jsonb_set('{\"_data_sources\": {}}'::jsonb,"
    " '{_data_sources,config}', coalesce(config_data, 'null'::jsonb)),"
    " '{_data_sources,online}', coalesce(online_data, 'null'::jsonb))"
)
_RAW_DATA_0003 = (
    "coalesce(config_data, '{}'::jsonb) || coalesce(online_data, '{}'::jsonb)"
    " || jsonb_set('{}'::jsonb, '{_data_sources}',"
    ' coalesce(data_sources, \'{"config": null, "online": null}\'::jsonb))'
)


# The last successful fetch of the unfiltered config / online API of the row's scope: the
# vos_data_cache row of (instance, /external/server/GetGateway<Type>[Online], md5(path || ':{}')),
# the key the poller's scheduled fetch uses.
_VIEW = """
    CREATE VIEW gateways AS
    SELECT g.id, g.vos_instance_id, g.gateway_type, g.gateway_name, g.in_config, g.ip_address,
           g.ip_source, g.port, g.protocol, g.remote_ips, g.prefix, g.capacity, g.register_type,
           g.lock_type, g.is_online, g.asr, g.acd, g.concurrent_calls, g.online_changed_at,
           g.config_data, g.online_data, g.data_sources, g.raw_data,
           CASE WHEN g.in_config THEN greatest(g.synced_at, (
               SELECT c.synced_at FROM vos_data_cache c
               WHERE c.vos_instance_id = g.vos_instance_id
                 AND c.api_path = '/external/server/GetGateway' || initcap(g.gateway_type)
                 AND c.cache_key = md5('/external/server/GetGateway' || initcap(g.gateway_type) || ':{}')))
                ELSE g.synced_at END AS synced_at,
           CASE WHEN g.online_synced_at IS NOT NULL THEN greatest(g.online_synced_at, (
               SELECT c.synced_at FROM vos_data_cache c
               WHERE c.vos_instance_id = g.vos_instance_id
                 AND c.api_path = '/external/server/GetGateway' || initcap(g.gateway_type) || 'Online'
                 AND c.cache_key = md5('/external/server/GetGateway' || initcap(g.gateway_type)
                                       || 'Online:{}'))) END AS online_synced_at,
           g.created_at, g.updated_at
    FROM gateway_rows g
"""


def _generated_kind() -> str:
    version = op.get_bind().exec_driver_sql("SHOW server_version_num").scalar_one()
    return "VIRTUAL" if int(version) >= _VIRTUAL_SINCE else "STORED"


def _raw_data(expression: str) -> None:
    op.execute("ALTER TABLE gateways DROP COLUMN raw_data")
    kind = _generated_kind()
    op.execute(f"ALTER TABLE gateways ADD COLUMN raw_data jsonb GENERATED ALWAYS AS ({expression}) {kind}")


def upgrade() -> None:
    op.execute("ALTER TABLE vos_data_cache ADD COLUMN last_read_at timestamptz")
    _raw_data(_RAW_DATA)
    op.execute("ALTER TABLE gateways RENAME TO gateway_rows")
    op.execute(_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW gateways")
    op.execute("ALTER TABLE gateway_rows RENAME TO gateways")
    _raw_data(_RAW_DATA_0003)
    op.execute("ALTER TABLE vos_data_cache DROP COLUMN last_read_at")
