"""The writer's PostgreSQL pool and the line between "database unavailable" and "this data fails"."""

from __future__ import annotations

import asyncpg

from vosync.shared.settings import Settings

# Errors that say nothing about the data: the server is down, restarting, out of connections, or
# chose this transaction as a deadlock/serialization victim. The batch is held and retried as is.
_TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "57P")


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, OSError | TimeoutError):
        return True
    if isinstance(exc, asyncpg.InvalidCachedStatementError | asyncpg.exceptions.OutdatedSchemaCacheError):
        return True  # a migration ran under us: the retry prepares the statements again
    if isinstance(exc, asyncpg.InterfaceError):
        # "connection is closed", "pool is closing"; other interface errors are bugs, not outages.
        return any(word in str(exc) for word in ("closed", "closing"))
    if isinstance(exc, asyncpg.PostgresError):
        state = getattr(exc, "sqlstate", "") or ""
        return state.startswith(_TRANSIENT_SQLSTATE_CLASSES)
    return False


def plain_dsn(settings: Settings) -> str:
    return settings.require_database_url().replace("postgresql+asyncpg://", "postgresql://", 1)


async def create_pool(settings: Settings, *, max_size: int = 4) -> asyncpg.Pool:
    """A lazy pool: it opens connections on use, so the writer starts (and waits) while PostgreSQL is down."""
    pool = await asyncpg.create_pool(
        plain_dsn(settings),
        min_size=0,
        max_size=max_size,
        timeout=5,
        max_inactive_connection_lifetime=300,
        # Batch statements join thousands of rows: enough memory that their hashes stay in RAM.
        server_settings={"application_name": "vosync-writer", "work_mem": "32MB"},
    )
    assert pool is not None
    return pool
