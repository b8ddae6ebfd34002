"""`vosync up`: the whole system on one machine.

Embedded NATS and PostgreSQL (unless VOSYNC_NATS_URL / VOSYNC_DATABASE_URL name servers), migrations,
the VOS simulator (unless --no-sim), then the api, writers and pollers as separate processes, each
waited for until ready. Ctrl-C or SIGTERM stops everything; the data stays in the data directory.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import sysconfig
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vosync.deploy.children import COLOURS, Child, stop_all
from vosync.deploy.embedded import EmbeddedNats, EmbeddedPostgres
from vosync.deploy.monitoring import (
    ALERTMANAGER_CONFIG,
    ALERTMANAGER_PORT,
    INSTALL_HINT,
    PROMETHEUS_PORT,
    Binaries,
    find_binaries,
    prometheus_config,
)
from vosync.deploy.processes import free_port, port_is_open
from vosync.deploy.supervise import RestartPolicy, describe_exit
from vosync.shared.db.migrate import upgrade
from vosync.shared.logs import configure_logging
from vosync.shared.settings import Settings, SettingsError, load_settings

log = logging.getLogger("vosync.launcher")

SIM_DEFAULT_PORT = 18100
START_DEADLINE_S = 90.0
STOP_CHILDREN_S = 5.0
STOP_SERVERS_S = 3.5


@dataclass(frozen=True)
class LaunchOptions:
    with_sim: bool = True
    api_port: int | None = None
    pollers: int = 1
    writers: int = 1
    data_dir: str | None = None
    sim_instances: int = 2
    sim_gateways: int = 200
    monitoring: bool = False


SUPERVISE_TICK_S = 0.25


class LaunchError(RuntimeError):
    """Start-up cannot go on; the message says why in one sentence."""


class CrashLoop(RuntimeError):
    """A child kept dying; the message says which and why in one sentence."""


@dataclass(frozen=True)
class _Watched:
    """One supervised child: how to see that it exited and how to start it again."""

    name: str
    returncode: Callable[[], int | None]
    restart: Callable[[], None]


def _script(name: str) -> str:
    path = Path(sysconfig.get_path("scripts")) / name
    if not path.exists():
        raise LaunchError(f"{name} is not installed in this environment (run `make run`)")
    return str(path)


def _sim_base_port(data_dir: Path, count: int) -> int:
    """The simulator keeps its ports across runs, so registered instances stay valid."""
    state = data_dir / "launcher.json"
    saved = json.loads(state.read_text()).get("sim_port") if state.exists() else None
    for base in [p for p in (saved, SIM_DEFAULT_PORT) if p]:
        if not any(port_is_open("127.0.0.1", base + i) for i in range(count)):
            break
    else:
        base = free_port()
        while any(port_is_open("127.0.0.1", base + i) for i in range(count)):
            base = free_port()
    state.write_text(json.dumps({"sim_port": base}))
    return int(base)


def _http_json(method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 (our own loopback api)
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    admin_key = next((k for k, role in load_settings().api_keys.items() if role == "admin"), None)
    if admin_key:
        request.add_header("X-API-Key", admin_key)
    with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 (our own loopback api)
        return json.loads(resp.read() or b"null")


def _register_sim_instances(api_url: str, sim_urls: list[str]) -> None:
    existing = {item["name"]: item for item in _http_json("GET", f"{api_url}/api/v1/instances")["items"]}
    for index, url in enumerate(sim_urls, start=1):
        name = f"sim-{index}"
        current = existing.get(name)
        if current is None:
            _http_json(
                "POST",
                f"{api_url}/api/v1/instances",
                {"name": name, "base_url": url, "description": "VOS3000 simulator (vosync up)"},
            )
        elif current["base_url"] != url:
            _http_json("PATCH", f"{api_url}/api/v1/instances/{current['id']}", {"base_url": url})


class Launcher:
    def __init__(self, options: LaunchOptions, settings: Settings) -> None:
        self.options = options
        self.settings = settings
        self.data_dir = Path(options.data_dir or settings.data_dir).resolve()
        self.api_port = options.api_port if options.api_port is not None else settings.api_port
        self.api_url = f"http://{settings.api_host}:{self.api_port}"
        self.nats: EmbeddedNats | None = None
        self.pg: EmbeddedPostgres | None = None
        self.children: list[Child] = []
        self.sim_urls: list[str] = []
        self.scrape_jobs: dict[str, list[str]] = {}  # job → host:port, for --monitoring
        self.monitoring_urls: dict[str, str] = {}

    # -- start ------------------------------------------------------------------------------------
    def start(self) -> None:
        binaries = find_binaries() if self.options.monitoring else None
        if self.options.monitoring and binaries is None:
            raise LaunchError(INSTALL_HINT)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o755)
        if port_is_open(self.settings.api_host, self.api_port):
            raise LaunchError(f"port {self.api_port} is already in use; choose another with --api-port")
        nats_url, database_url = self._start_infrastructure()
        base_env = self._base_env(nats_url, database_url)
        deadline = time.monotonic() + START_DEADLINE_S
        if self.options.with_sim:
            self._start_sim(base_env, deadline)
        self._start_child("api", [_script("vosync-api")], base_env, f"{self.api_url}/health/ready", deadline)
        self.scrape_jobs["vosync-api"] = [f"{self.settings.api_host}:{self.api_port}"]
        if self.sim_urls:
            _register_sim_instances(self.api_url, self.sim_urls)
        for i in range(1, self.options.writers + 1):
            self._start_ops_child(f"writer-{i}", "vosync-writer", base_env, deadline)
        for i in range(1, self.options.pollers + 1):
            env = {**base_env, "VOSYNC_POLLER_ID": f"{os.uname().nodename}-poller-{i}"}
            self._start_ops_child(f"poller-{i}", "vosync-poller", env, deadline)
        if binaries is not None:
            self._start_monitoring(binaries, base_env, deadline)
        self._print_banner(nats_url, database_url)

    def _start_infrastructure(self) -> tuple[str, str]:
        if not self.settings.nats_url:
            self.nats = EmbeddedNats(self.data_dir / "nats")
            self.nats.start()
        if not self.settings.database_url:
            self.pg = EmbeddedPostgres(self.data_dir / "postgres")
            self.pg.start()
        nats_url = self.settings.nats_url or (self.nats.url if self.nats else "")
        database_url = self.settings.database_url or (self.pg.url() if self.pg else "")
        asyncio.run(upgrade(database_url))
        return nats_url, database_url

    def _base_env(self, nats_url: str, database_url: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VOSYNC_OPS_")}
        env.update(
            {
                "VOSYNC_NATS_URL": nats_url,
                "VOSYNC_DATABASE_URL": database_url,
                "VOSYNC_API_HOST": self.settings.api_host,
                "VOSYNC_API_PORT": str(self.api_port),
                "VOSYNC_DATA_DIR": str(self.data_dir),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.setdefault("VOSYNC_AUTH", "off")  # the api refuses this outside loopback
        env.setdefault("VOSYNC_LOG_FORMAT", "console")
        return env

    def _start_sim(self, env: dict[str, str], deadline: float) -> None:
        count = self.options.sim_instances
        base = _sim_base_port(self.data_dir, count)
        self.sim_urls = [f"http://127.0.0.1:{base + i}" for i in range(count)]
        argv = [
            _script("vos-sim"),
            "--host",
            "127.0.0.1",
            "--port",
            str(base),
            "--instances",
            str(count),
            "--gateways",
            str(self.options.sim_gateways),
            "--seed",
            "1",
        ]
        self._start_child("vos-sim", argv, env, f"{self.sim_urls[-1]}/_sim/stats", deadline)

    def _start_ops_child(self, name: str, script: str, env: dict[str, str], deadline: float) -> None:
        port = free_port()
        self.scrape_jobs.setdefault(script, []).append(f"127.0.0.1:{port}")
        child_env = {**env, "VOSYNC_OPS_PORT": str(port)}
        ready = f"http://127.0.0.1:{port}/health/ready"
        self._start_child(name, [_script(script)], child_env, ready, deadline)

    def _start_monitoring(self, binaries: Binaries, env: dict[str, str], deadline: float) -> None:
        """Prometheus (and Alertmanager) as supervised children, data under the data directory."""
        home = self.data_dir / "monitoring"
        home.mkdir(exist_ok=True)
        alertmanager = None
        if binaries.alertmanager is not None:
            port = ALERTMANAGER_PORT if not port_is_open("127.0.0.1", ALERTMANAGER_PORT) else free_port()
            alertmanager = f"127.0.0.1:{port}"
            argv = [
                binaries.alertmanager,
                f"--config.file={ALERTMANAGER_CONFIG}",
                f"--storage.path={home / 'alertmanager'}",
                f"--web.listen-address={alertmanager}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ]
            self._start_child("alertmanager", argv, env, f"http://{alertmanager}/-/ready", deadline)
            self.monitoring_urls["Alertmanager"] = f"http://{alertmanager}"
        config = home / "prometheus.yml"
        config.write_text(prometheus_config(self.scrape_jobs, alertmanager))
        port = PROMETHEUS_PORT if not port_is_open("127.0.0.1", PROMETHEUS_PORT) else free_port()
        argv = [
            binaries.prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={home / 'prometheus'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ]
        self._start_child("prometheus", argv, env, f"http://127.0.0.1:{port}/-/ready", deadline)
        self.monitoring_urls["Prometheus"] = f"http://127.0.0.1:{port}"

    def _start_child(
        self, name: str, argv: list[str], env: dict[str, str], ready: str, deadline: float
    ) -> None:
        child = Child(name, argv, env, ready)
        self.children.append(child)
        child.start(COLOURS[len(self.children) % len(COLOURS)])
        child.wait_ready(deadline)

    def _print_banner(self, nats_url: str, database_url: str) -> None:
        lines = [
            "",
            "vosync is up",
            f"  gateway page   {self.api_url}/",
            f"  API docs       {self.api_url}/schema/swagger",
            f"  NATS           {nats_url}",
            f"  PostgreSQL     {database_url.replace('+asyncpg', '')}",
        ]
        lines += [f"  simulator      {url}  (sim-{i})" for i, url in enumerate(self.sim_urls, start=1)]
        lines += [f"  {name:<14} {url}" for name, url in self.monitoring_urls.items()]
        lines += ["Press Ctrl-C to stop.", ""]
        print("\n".join(lines), flush=True)

    # -- supervise --------------------------------------------------------------------------------
    def _watched(self) -> list[_Watched]:
        watched: list[_Watched] = []
        for server in (self.nats, self.pg):
            if server is not None:
                watched.append(_Watched(server.name, _server_returncode(server), _server_restart(server)))
        watched += [_Watched(child.name, child.returncode, child.start) for child in self.children]
        return watched

    def supervise(self, stop: threading.Event, policy: RestartPolicy | None = None) -> None:
        """Restart whatever exits until `stop` is set; raise CrashLoop when the policy gives up.

        Restarts are scheduled, not slept through, so a second child dying during another's backoff
        is seen at once. NATS and PostgreSQL come back on their own data directory and ports, so the
        services (which reconnect by themselves) find them where they were.
        """
        policy = policy or RestartPolicy()
        watched = self._watched()
        due: dict[str, float] = {}  # name -> monotonic time of its next start
        while not stop.wait(SUPERVISE_TICK_S):
            for unit in watched:
                now = time.monotonic()
                if unit.name in due:
                    if now >= due[unit.name]:
                        del due[unit.name]
                        self._restart(unit, policy, due)
                    continue
                code = unit.returncode()
                if code is not None:
                    self._schedule(unit.name, describe_exit(code), policy, due)

    def _schedule(self, name: str, how: str, policy: RestartPolicy, due: dict[str, float]) -> None:
        decision = policy.on_exit(name, time.monotonic(), how)
        if not decision.restart:
            raise CrashLoop(decision.reason)
        log.warning(
            "%s %s; restarting it in %.0f s (restart %d)", name, how, decision.delay_s, decision.restarts
        )
        due[name] = time.monotonic() + decision.delay_s

    def _restart(self, unit: _Watched, policy: RestartPolicy, due: dict[str, float]) -> None:
        try:
            unit.restart()
        except (RuntimeError, TimeoutError, OSError) as exc:
            log.warning("%s did not start again: %s", unit.name, exc)
            self._schedule(unit.name, "failed to start again", policy, due)
            return
        log.info("%s started again", unit.name)

    # -- stop -------------------------------------------------------------------------------------
    def stop(self) -> None:
        stop_all(self.children, STOP_CHILDREN_S)
        self.children.clear()
        # The servers stop side by side; whichever outlives its share of the 10 s budget is killed.
        servers = [s for s in (self.pg, self.nats) if s is not None]
        threads = [threading.Thread(target=s.stop, args=(STOP_SERVERS_S,)) for s in servers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def _server_returncode(server: EmbeddedNats | EmbeddedPostgres) -> Callable[[], int | None]:
    def returncode() -> int | None:
        return server.proc.poll() if server.proc is not None else None

    return returncode


def _server_restart(server: EmbeddedNats | EmbeddedPostgres) -> Callable[[], None]:
    def restart() -> None:
        server.stop(1.0)  # reaps what is left of the last run and closes its log
        try:
            server._start_once()  # same ports and data directory: not start(), which may pick others
        except BaseException:
            server.stop(1.0)  # a server that never became ready is not left running
            raise

    return restart


def run_launcher(options: LaunchOptions) -> int:
    configure_logging("launcher", fmt="console")
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    started = False

    # The signal interrupts whatever the main thread waits on (a start-up, a restart of PostgreSQL),
    # so Ctrl-C stops the stack within 10 s even in the middle of a restart.
    def _on_signal(*_: object) -> None:
        stop.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    launcher = Launcher(options, settings)
    try:
        launcher.start()
        started = True
        launcher.supervise(stop)
        print("stopping ...", flush=True)
        return 0
    except KeyboardInterrupt:
        print("stopping ..." if started else "interrupted during start-up; stopping ...", flush=True)
        return 0 if started else 130
    except CrashLoop as exc:
        print(f"error: {exc}.", file=sys.stderr, flush=True)
        return 1
    except (LaunchError, TimeoutError, RuntimeError, urllib.error.URLError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C must not cut the stop short and leave processes behind.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        launcher.stop()
