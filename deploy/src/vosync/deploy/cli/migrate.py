"""`vosync migrate`: the schema's revision, straight against PostgreSQL (VOSYNC_DATABASE_URL).

It talks to the database, not the api, because migrating is what an operator does before the api
can run.
"""

from __future__ import annotations

import argparse
import asyncio

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from vosync.deploy.cli.client import CliError
from vosync.deploy.cli.output import emit_json, table
from vosync.shared.db.migrate import alembic_config, upgrade
from vosync.shared.settings import SettingsError, load_settings


def _database_url() -> str:
    try:
        return load_settings().require_database_url()
    except SettingsError as exc:
        raise CliError(str(exc)) from None


async def _current(url: str) -> str | None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            exists = (await conn.execute(text("SELECT to_regclass('alembic_version')"))).scalar()
            if exists is None:
                return None
            return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    finally:
        await engine.dispose()


def migrate(args: argparse.Namespace) -> None:
    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head()
    if args.action == "history":
        revisions = [(r.revision, r.down_revision, r.doc) for r in script.walk_revisions()]
        if args.json:
            emit_json([{"revision": r, "down_revision": d, "doc": doc} for r, d, doc in revisions])
        else:
            print(table(["revision", "after", "description"], revisions))
        return
    url = _database_url()
    try:
        if args.action == "upgrade":
            asyncio.run(upgrade(url))
        current = asyncio.run(_current(url))
    except OSError as exc:
        raise CliError(f"cannot reach the database: {exc}") from None
    if args.json:
        emit_json({"current": current, "head": head})
    else:
        print(
            f"database at {current or 'no revision'}"
            + (" (latest)" if current == head else f" (latest: {head})")
        )
