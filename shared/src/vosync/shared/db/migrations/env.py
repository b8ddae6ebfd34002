"""Alembic environment: runs on the connection that `vosync.shared.db.migrate` hands over."""

from __future__ import annotations

from alembic import context

from vosync.shared.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `vosync-migrate`, which provides the connection")

context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
