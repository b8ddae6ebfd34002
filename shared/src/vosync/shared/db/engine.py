"""Async engines. One per process; asyncpg's pipelined executemany does the bulk work."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from vosync.shared.settings import Settings


def make_engine(settings: Settings, *, pool_size: int = 10, application_name: str = "vosync") -> AsyncEngine:
    return create_async_engine(
        settings.require_database_url(),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": application_name}, "timeout": 10},
    )
