"""The services' NATS client settings: TLS (VOSYNC_NATS_TLS_*) and token (VOSYNC_NATS_TOKEN).

User/password (VOSYNC_NATS_USER / VOSYNC_NATS_PASSWORD) is exercised by every test in this package.
The server's own view (/connz) shows that the connection really is TLS and really is that user.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest

from tests.integration.deploy.deployed_nats import JS_TIMEOUT_S, DeployedNats
from vosync.deploy.embedded import nats_server_binary
from vosync.deploy.processes import die_with_parent, free_port, stop_process, wait_until
from vosync.shared import bus

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_certificates(directory: Path) -> None:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA."""
    directory.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=vosync test CA",
        cwd=directory,
    )  # fmt: skip
    for name, extension in [
        ("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth"),
        ("client", "extendedKeyUsage=clientAuth"),
    ]:
        (directory / f"{name}.ext").write_text(extension + "\n")
        _openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN=vosync test {name}",
            cwd=directory,
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-out", f"{name}.crt", "-extfile", f"{name}.ext",
            cwd=directory,
        )  # fmt: skip


@pytest.fixture(scope="module")
def tls_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DeployedNats, Path]]:
    workdir = tmp_path_factory.mktemp("tls-nats")
    certs = workdir / "certs"
    _make_certificates(certs)
    servers = DeployedNats(workdir / "server", nodes=1, tls_dir=certs)
    servers.start()
    try:
        yield servers, certs
    finally:
        servers.stop()


def _connections(servers: DeployedNats) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{servers.nodes[0].http_port}/connz?auth=true"
    with urllib.request.urlopen(url, timeout=3) as resp:
        connections: list[dict[str, Any]] = json.loads(resp.read())["connections"] or []
    return connections


async def test_service_connects_over_mutual_tls_with_its_user(tls_nats: tuple[DeployedNats, Path]) -> None:
    servers, certs = tls_nats
    settings = servers.settings(
        "writer",
        nats_tls_ca=certs / "ca.crt",
        nats_tls_cert=certs / "client.crt",
        nats_tls_key=certs / "client.key",
    )
    assert settings.require_nats_url().startswith("tls://")
    nc = await bus.connect(settings, "tls-writer")
    try:
        js = nc.jetstream(timeout=JS_TIMEOUT_S)
        await bus.ensure_writer_consumer(js, settings)
        info = await js.consumer_info(bus.RESULTS_STREAM, bus.WRITER_DURABLE)
        assert info.name == bus.WRITER_DURABLE
        [connection] = [c for c in _connections(servers) if c.get("name") == "tls-writer"]
        assert connection["tls_version"].startswith("1.")
        assert connection["authorized_user"] == "writer"
    finally:
        await nc.close()


async def test_without_a_client_certificate_the_server_refuses(tls_nats: tuple[DeployedNats, Path]) -> None:
    servers, certs = tls_nats
    settings = servers.settings("writer", nats_tls_ca=certs / "ca.crt", nats_url=servers.url)
    # bus.connect retries for ever (a NATS outage pauses a service); it never gets in
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(bus.connect(settings, "no-client-cert"), 3)
    assert not [c for c in _connections(servers) if c.get("name") == "no-client-cert"]
    with pytest.raises((nats.errors.Error, OSError)):
        await nats.connect(servers.url.replace("tls://", "nats://"), allow_reconnect=False, connect_timeout=2)


@pytest.fixture
def token_nats(tmp_path: Path) -> Iterator[str]:
    """A server that authenticates by token (the other client option vosync offers)."""
    port, http_port = free_port(), free_port()
    conf = tmp_path / "token.conf"
    conf.write_text(
        f"listen: 127.0.0.1:{port}\nhttp: 127.0.0.1:{http_port}\n"
        f'jetstream {{ store_dir: "{tmp_path / "js"}" }}\n'
        "authorization { token: $NATS_TOKEN }\n"
    )
    with (tmp_path / "nats.log").open("ab") as log:
        proc = subprocess.Popen(
            [str(nats_server_binary()), "-c", str(conf)],
            env={"NATS_TOKEN": "test-token-secret"},
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),
        )

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz", timeout=1) as resp:
                    return bool(resp.status == 200)
            except OSError:
                return False

        try:
            wait_until(healthy, 20, "nats-server (token)", proc)
            yield f"nats://127.0.0.1:{port}"
        finally:
            stop_process(proc)


async def test_service_connects_with_a_token(token_nats: str) -> None:
    from vosync.shared.settings import Settings

    settings = Settings(nats_url=token_nats, nats_token="test-token-secret")
    nc = await bus.connect(settings, "token-client")
    try:
        await bus.ensure_streams(nc.jetstream(timeout=JS_TIMEOUT_S), settings)
    finally:
        await nc.close()
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(token_nats, token="wrong", allow_reconnect=False)
