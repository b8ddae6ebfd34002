import asyncpg

from tests.conftest import plain_pg_url
from vosync.shared.db.migrate import downgrade, upgrade


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
    assert {"vos_instances", "vos_data_cache", "gateways", "gateway_event_outbox"} <= tables
    await downgrade(url, "base")
    assert await _tables(url) == {"alembic_version"}
    await upgrade(url)
    assert "gateways" in await _tables(url)


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
