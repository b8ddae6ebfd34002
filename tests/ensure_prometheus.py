"""Install Debian's prometheus (prometheus + promtool) for the monitoring tests when it is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys


def main() -> int:
    if shutil.which("promtool") and shutil.which("prometheus"):
        return 0
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print(
            "note: prometheus is missing and cannot be installed here; monitoring tests will be skipped",
            file=sys.stderr,
        )
        return 0
    print("installing Debian's prometheus for the monitoring tests ...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "prometheus"]
    if subprocess.run(install, check=False, env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        if subprocess.run(install, check=False, env=env).returncode != 0:
            print("note: prometheus could not be installed; monitoring tests are skipped", file=sys.stderr)
    # Debian's package may start its own server on :9090; the tests start theirs on free ports.
    for stop in (["systemctl", "disable", "--now", "prometheus"], ["service", "prometheus", "stop"]):
        if shutil.which(stop[0]):
            subprocess.run(stop, check=False, capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
