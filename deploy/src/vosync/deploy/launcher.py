"""The local launcher: embedded infrastructure, migrations, then the services as child processes."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from vosync.deploy.embedded import EmbeddedNats, EmbeddedPostgres
from vosync.shared.db.migrate import upgrade
from vosync.shared.logs import configure_logging
from vosync.shared.settings import SettingsError, load_settings

log = logging.getLogger("vosync.launcher")


@dataclass(frozen=True)
class LaunchOptions:
    with_sim: bool = True
    api_port: int | None = None
    pollers: int = 1
    writers: int = 1
    data_dir: str | None = None
    sim_instances: int = 2
    sim_gateways: int = 200


def run_launcher(options: LaunchOptions) -> int:
    configure_logging("launcher", fmt="console")
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    data_dir = Path(options.data_dir) if options.data_dir else settings.data_dir
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o755)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    nats_server = None if settings.nats_url else EmbeddedNats(data_dir / "nats")
    pg_server = None if settings.database_url else EmbeddedPostgres(data_dir / "postgres")
    try:
        if nats_server:
            nats_server.start()
        if pg_server:
            pg_server.start()
        nats_url = settings.nats_url or (nats_server.url if nats_server else "")
        database_url = settings.database_url or (pg_server.url() if pg_server else "")
        asyncio.run(upgrade(database_url))
        print(f"NATS       {nats_url}\nPostgreSQL {database_url}\nPress Ctrl-C to stop.", flush=True)
        stop.wait()
    finally:
        for server in (pg_server, nats_server):
            if server:
                server.stop()
    return 0
