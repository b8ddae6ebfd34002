"""NATS servers started from the deploy configuration (deploy/nats/) on loopback, for tests.

The configuration files are used as shipped; only what must differ on a shared test machine is
rewritten: the listen addresses (loopback, free ports) and the JetStream store directory. Each rewrite
must match exactly once, so a change to the shipped files that the tests no longer understand fails
loudly instead of testing something else.
"""

from __future__ import annotations

import os
import signal
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from vosync.deploy.embedded import nats_server_binary
from vosync.deploy.processes import die_with_parent, free_port, stop_process, wait_until
from vosync.shared.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[3]
NATS_DEPLOY_DIR = REPO_ROOT / "deploy" / "nats"

# The secrets the shipped configuration reads from the environment (test values).
PASSWORDS = {
    "poller": "test-poller-secret",
    "writer": "test-writer-secret",
    "api": "test-api-secret",
    "admin": "test-admin-secret",
    "sys": "test-sys-secret",
}
ROUTE_PASSWORD = "test-route-secret"
# The tests' JetStream API calls wait this long (nats-py's default is 5 s): a loaded test machine
# can be slow to create file-backed streams, which is not what these tests are about.
JS_TIMEOUT_S = 15.0


def _replace_once(text: str, old: str, new: str, source: str) -> str:
    count = text.count(old)
    if count != 1:
        raise AssertionError(f"{source}: expected exactly one {old!r} to rewrite for the test, found {count}")
    return text.replace(old, new)


@dataclass
class NatsNode:
    name: str
    workdir: Path
    client_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    cluster_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None

    scheme: str = "nats"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.client_port}"

    @property
    def route_url(self) -> str:
        return f"nats-route://route:{ROUTE_PASSWORD}@127.0.0.1:{self.cluster_port}"


class DeployedNats:
    """One node (single.conf) or a cluster of nodes (cluster.conf) from deploy/nats/."""

    def __init__(self, workdir: Path, nodes: int = 1, *, tls_dir: Path | None = None) -> None:
        """`tls_dir`: require client TLS (deploy/nats/tls.conf) with the ca.crt, server.crt and
        server.key found there."""
        self.clustered = nodes > 1
        self.tls_dir = tls_dir
        self.nodes = [NatsNode(f"nats-{i}", workdir / f"nats-{i}") for i in range(1, nodes + 1)]
        for node in self.nodes:
            node.scheme = "tls" if tls_dir is not None else "nats"
            self._render(node)

    # -- configuration ----------------------------------------------------------------------------
    def _render(self, node: NatsNode) -> None:
        node.workdir.mkdir(parents=True, exist_ok=True)
        (node.workdir / "accounts.conf").write_text((NATS_DEPLOY_DIR / "accounts.conf").read_text())
        common = (NATS_DEPLOY_DIR / "common.conf").read_text()
        common = _replace_once(
            common, "\nport: 4222\n", f"\nhost: 127.0.0.1\nport: {node.client_port}\n", "common.conf"
        )
        common = _replace_once(
            common, "\nhttp_port: 8222\n", f"\nhttp: 127.0.0.1:{node.http_port}\n", "common.conf"
        )
        common = _replace_once(
            common, 'store_dir: "/data"', f'store_dir: "{node.workdir / "data"}"', "common.conf"
        )
        if self.tls_dir is not None:
            tls = (NATS_DEPLOY_DIR / "tls.conf").read_text()
            assert tls.count('"/etc/nats/tls/') == 3, "tls.conf: the three files under /etc/nats/tls/"
            (node.workdir / "tls.conf").write_text(tls.replace('"/etc/nats/tls/', f'"{self.tls_dir}/'))
            common += "\ninclude ./tls.conf\n"
        (node.workdir / "common.conf").write_text(common)
        (node.workdir / "single.conf").write_text((NATS_DEPLOY_DIR / "single.conf").read_text())
        cluster = (NATS_DEPLOY_DIR / "cluster.conf").read_text()
        cluster = _replace_once(
            cluster, "\n  port: 6222\n", f"\n  listen: 127.0.0.1:{node.cluster_port}\n", "cluster.conf"
        )
        (node.workdir / "cluster.conf").write_text(cluster)

    def _environment(self, node: NatsNode) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        env.update({f"NATS_{user.upper()}_PASSWORD": secret for user, secret in PASSWORDS.items()})
        if self.clustered:
            env["NATS_SERVER_NAME"] = node.name
            env["NATS_ROUTE_PASSWORD"] = ROUTE_PASSWORD
            env.update({f"NATS_ROUTE_{i}": peer.route_url for i, peer in enumerate(self.nodes, start=1)})
        return env

    # -- processes ---------------------------------------------------------------------------------
    def start(self) -> None:
        for node in self.nodes:
            self._spawn(node)
        for node in self.nodes:
            self.wait_ready(node)

    def _spawn(self, node: NatsNode) -> None:
        conf = node.workdir / ("cluster.conf" if self.clustered else "single.conf")
        node.log = (node.workdir / "nats.log").open("ab")
        node.proc = subprocess.Popen(
            [str(nats_server_binary()), "-c", str(conf)],
            cwd=node.workdir,
            env=self._environment(node),
            stdin=subprocess.DEVNULL,
            stdout=node.log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),
        )

    def wait_ready(self, node: NatsNode, timeout_s: float = 30) -> None:
        """Ready = serving clients with JetStream current (in a cluster: in contact with a meta leader)."""
        assert node.proc is not None
        url = f"http://127.0.0.1:{node.http_port}/healthz"

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:
                    return bool(resp.status == 200)
            except (OSError, urllib.error.HTTPError):
                return False

        wait_until(healthy, timeout_s, f"{node.name} (log: {node.workdir / 'nats.log'})", node.proc)

    def kill(self, name: str) -> None:
        """SIGKILL: the node dies as in a crash or a power cut, without lame-duck mode."""
        node = self.node(name)
        assert node.proc is not None
        node.proc.send_signal(signal.SIGKILL)
        node.proc.wait(10)
        node.proc = None

    def restart(self, name: str) -> None:
        node = self.node(name)
        self._spawn(node)
        self.wait_ready(node)

    def stop(self) -> None:
        for node in self.nodes:
            if node.proc is not None:
                stop_process(node.proc)
                node.proc = None
            if node.log is not None:
                node.log.close()
                node.log = None

    # -- clients -----------------------------------------------------------------------------------
    def node(self, name: str) -> NatsNode:
        return next(node for node in self.nodes if node.name == name)

    @property
    def url(self) -> str:
        """Every node, comma separated, as VOSYNC_NATS_URL takes it."""
        return ",".join(node.url for node in self.nodes)

    def settings(self, user: str, **overrides: Any) -> Settings:
        """Settings of a service connecting as `user` with its deploy password."""
        values: dict[str, Any] = {
            "nats_url": self.url,
            "nats_user": user,
            "nats_password": PASSWORDS[user],
            "stream_replicas": len(self.nodes),
            "log_format": "console",
        }
        values.update(overrides)
        return Settings(**values)
