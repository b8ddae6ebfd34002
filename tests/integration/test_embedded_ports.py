"""A port picked as free can be taken before the server binds it: the embedded servers pick again."""

import socket
import tempfile
from pathlib import Path

import pytest

from vosync.deploy.embedded import EmbeddedNats, EmbeddedPostgres
from vosync.deploy.processes import port_is_open


def _occupy(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


def _data_dir() -> Path:
    data = Path(tempfile.mkdtemp(prefix="vosync-ports-"))
    data.chmod(0o755)
    return data


def test_nats_moves_to_other_ports_when_its_port_was_taken() -> None:
    server = EmbeddedNats(_data_dir() / "nats")
    taken = server.port
    squatter = _occupy(taken)
    try:
        with server:
            assert server.port != taken and port_is_open("127.0.0.1", server.port)
    finally:
        squatter.close()


def test_postgres_moves_to_another_port_when_its_port_was_taken() -> None:
    server = EmbeddedPostgres(_data_dir() / "pg", durable=False)
    taken = server.port
    squatter = _occupy(taken)
    try:
        with server:
            assert server.port != taken and port_is_open("127.0.0.1", server.port)
            assert server.psql("SELECT 1").strip() == "1"
    finally:
        squatter.close()


def test_a_port_the_caller_chose_is_not_changed() -> None:
    probe = EmbeddedNats(_data_dir() / "probe")
    squatter = _occupy(probe.port)
    try:
        server = EmbeddedNats(_data_dir() / "nats", port=probe.port)
        with pytest.raises(RuntimeError, match="exited"):
            server.start()
        server.stop()
    finally:
        squatter.close()
