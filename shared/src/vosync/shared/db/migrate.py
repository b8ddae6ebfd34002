"""`vosync-migrate`: bring the database schema to the latest revision (or to another one)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from vosync.shared.settings import Settings, SettingsError, load_settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


async def _run(database_url: str, action: str, revision: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            # Serialise concurrent migrators (several services starting at once).
            await conn.exec_driver_sql("SELECT pg_advisory_xact_lock(77180001)")

            def _apply(sync_conn: Connection) -> None:
                cfg = alembic_config(sync_conn)
                if action == "upgrade":
                    command.upgrade(cfg, revision)
                else:
                    command.downgrade(cfg, revision)

            await conn.run_sync(_apply)
    finally:
        await engine.dispose()


async def upgrade(database_url: str, revision: str = "head") -> None:
    await _run(database_url, "upgrade", revision)


async def downgrade(database_url: str, revision: str = "base") -> None:
    await _run(database_url, "downgrade", revision)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="vosync-migrate", description=__doc__)
    parser.add_argument("action", nargs="?", choices=["upgrade", "downgrade"], default="upgrade")
    parser.add_argument("revision", nargs="?", help="default: head for upgrade, base for downgrade")
    args = parser.parse_args(argv)
    try:
        settings: Settings = load_settings()
        url = settings.require_database_url()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    revision = args.revision or ("head" if args.action == "upgrade" else "base")
    try:
        asyncio.run(_run(url, args.action, revision))
    except OSError as exc:
        print(f"error: cannot reach the database: {exc}", file=sys.stderr)
        sys.exit(1)
    print(f"database {args.action}d to {revision}")
