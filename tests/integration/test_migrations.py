import importlib.util
import json
from pathlib import Path
from types import ModuleType

import asyncpg

from tests.support.postgres import plain_pg_url
from vosync.shared.db.migrate import downgrade, upgrade
from vosync.shared.db.models import GATEWAY_RAW_DATA_SQL


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(plain_pg_url(url))
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r["tablename"] for r in rows}
    finally:
        await conn.close()


async def test_upgrade_downgrade_upgrade_on_a_fresh_database(pg_server_url: str) -> None:
    admin = await asyncpg.connect(plain_pg_url(pg_server_url))
    try:
        await admin.execute("DROP DATABASE IF EXISTS vosync_migration_test")
        await admin.execute("CREATE DATABASE vosync_migration_test")
    finally:
        await admin.close()
    url = pg_server_url.rsplit("/", 1)[0] + "/vosync_migration_test"
    await upgrade(url)
    tables = await _tables(url)
    assert {"vos_instances", "vos_data_cache", "gateway_rows", "gateway_event_outbox"} <= tables
    assert {"phones", "fee_rate_groups", "suites"} <= tables
    await downgrade(url, "base")
    assert await _tables(url) == {"alembic_version"}
    await upgrade(url)
    assert "gateway_rows" in await _tables(url)


async def test_gateway_identity_is_instance_type_and_name(pg_conn: asyncpg.Connection) -> None:
    inst = await pg_conn.fetchval(
        "INSERT INTO vos_instances (name, base_url) VALUES ('a', 'http://127.0.0.1:1') RETURNING id"
    )
    insert = "INSERT INTO gateways (vos_instance_id, gateway_type, gateway_name) VALUES ($1, $2, $3)"
    await pg_conn.execute(insert, inst, "mapping", "gw-1")
    await pg_conn.execute(insert, inst, "routing", "gw-1")  # same name, other type: allowed
    try:
        await pg_conn.execute(insert, inst, "mapping", "gw-1")
    except asyncpg.UniqueViolationError:
        pass
    else:
        raise AssertionError("duplicate (instance, type, name) accepted")


def _migration(file_name: str) -> ModuleType:
    from vosync.shared.db import models

    path = Path(models.__file__).parent / "migrations" / "versions" / file_name
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_raw_data_is_config_then_online_then_both_items_virtual_or_stored(
    pg_conn: asyncpg.Connection,
) -> None:
    """The latest migration's expression is the model's, and it is valid both as VIRTUAL and as
    STORED (PostgreSQL before 18 gets STORED; both need immutable functions only). `_data_sources`
    holds the raw config and online items, as the seed shows (migration 0006)."""
    assert _migration("0006_retention_and_seed_shapes.py")._RAW_DATA == GATEWAY_RAW_DATA_SQL
    assert _migration("0006_retention_and_seed_shapes.py")._RAW_DATA_0003 == (
        _migration("0003_gateways_raw_data_computed.py")._RAW_DATA
    )  # what its downgrade restores
    config = {"name": "gw", "remoteIps": "10.0.0.1", "capacity": 10}
    online = {"name": "gw", "remoteIps": "10.0.0.2", "currentCall": 3}
    for kind in ("VIRTUAL", "STORED"):
        await pg_conn.execute(
            "CREATE TEMP TABLE raw_data_check (config_data jsonb, online_data jsonb, data_sources jsonb, "
            f"raw_data jsonb GENERATED ALWAYS AS ({GATEWAY_RAW_DATA_SQL}) {kind})"
        )
        await pg_conn.execute(
            "INSERT INTO raw_data_check VALUES ($1::jsonb, $2::jsonb, $3::jsonb), ($1::jsonb, NULL, NULL),"
            " (NULL, NULL, NULL)",
            json.dumps(config),
            json.dumps(online),
            json.dumps({"config": {"api": "GetGatewayMapping"}, "online": None}),
        )
        rows = [
            json.loads(r["raw"])
            for r in await pg_conn.fetch("SELECT raw_data::text AS raw FROM raw_data_check")
        ]
        assert rows == [
            {
                "name": "gw",
                "remoteIps": "10.0.0.2",  # the online item's value wins
                "capacity": 10,
                "currentCall": 3,
                "_data_sources": {"config": config, "online": online},
            },
            {**config, "_data_sources": {"config": config, "online": None}},
            {"_data_sources": {"config": None, "online": None}},
        ]
        await pg_conn.execute("DROP TABLE raw_data_check")


async def test_gateways_is_a_view_of_gateway_rows(pg_conn: asyncpg.Connection) -> None:
    """The seed's `SELECT … FROM gateways` reads the view; the writer and the api use the table."""
    assert await pg_conn.fetchval("SELECT count(*) FROM pg_views WHERE viewname = 'gateways'") == 1
    assert await pg_conn.fetchval("SELECT count(*) FROM pg_tables WHERE tablename = 'gateway_rows'") == 1
    view = {r["attname"] for r in await pg_conn.fetch(_COLUMNS, "gateways")}
    table = {r["attname"] for r in await pg_conn.fetch(_COLUMNS, "gateway_rows")}
    assert view == table  # the same columns, synced_at / online_synced_at derived


_COLUMNS = (
    "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped"
)


async def test_gateways_raw_data_is_virtual_on_postgresql_18(pg_conn: asyncpg.Connection) -> None:
    column = "SELECT {} FROM pg_attribute WHERE attrelid = 'gateway_rows'::regclass AND attname = $1"
    generated = await pg_conn.fetchval(column.format("attgenerated"), "raw_data")
    version = int(await pg_conn.fetchval("SHOW server_version_num"))
    assert generated == (b"v" if version >= 180_000 else b"s")  # computed when read, or stored
    storage = await pg_conn.fetchval(column.format("attstorage"), "config_data")
    assert storage == b"e"  # EXTERNAL: out of line, uncompressed
