"""A PostgreSQL server of a test's own, for tests that stop it under the services' feet without
disturbing any other test."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vosync.deploy.embedded import EmbeddedPostgres


@contextmanager
def private_postgres(prefix: str, *, durable: bool) -> Iterator[EmbeddedPostgres]:
    """A started embedded server in a fresh directory, stopped and removed afterwards. Under /tmp and
    world-traversable: as root, PostgreSQL runs as another user that must reach its data."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    server = EmbeddedPostgres(path, durable=durable)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(path, ignore_errors=True)
