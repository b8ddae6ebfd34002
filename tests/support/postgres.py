"""PostgreSQL for tests: the URL asyncpg takes, and statements run on a connection of their own."""

from __future__ import annotations

import asyncpg


def plain_pg_url(url: str) -> str:
    """asyncpg wants postgresql://, SQLAlchemy postgresql+asyncpg://."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def execute(url: str, *statements: str) -> None:
    """Each statement in turn on one new connection to `url`, closed after (also on failure)."""
    conn = await asyncpg.connect(plain_pg_url(url))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()
