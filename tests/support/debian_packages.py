"""Installing a Debian package that some tests need, on demand, with apt-get (never a download from
elsewhere); where that is impossible the tests that need it skip."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence


def install_missing(what: str, packages: Sequence[str], for_tests: str) -> bool:
    """Installs `packages` (which bring `what`) for the `for_tests` tests, only as root where apt-get
    exists; says on stderr what it does or why it cannot. Never fails (a missing tool skips tests);
    False where it could not even try."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print(
            f"note: {what} is missing and cannot be installed here; {for_tests} tests will be skipped",
            file=sys.stderr,
        )
        return False
    print(f"installing Debian's {what} for the {for_tests} tests ...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages]
    # The package index may be missing or stale (a fresh image): refresh it once and try again.
    if subprocess.run(install, check=False, env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        if subprocess.run(install, check=False, env=env).returncode != 0:
            print(f"note: {what} could not be installed; {for_tests} tests will be skipped", file=sys.stderr)
    return True
