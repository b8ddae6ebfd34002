"""Install Debian's prometheus (prometheus + promtool) for the monitoring tests when it is missing."""

from __future__ import annotations

import shutil
import subprocess
import sys

from tests.support.debian_packages import install_missing


def main() -> int:
    if shutil.which("promtool") and shutil.which("prometheus"):
        return 0
    if not install_missing("prometheus", ["prometheus"], for_tests="monitoring"):
        return 0
    # Debian's package may start its own server on :9090; the tests start theirs on free ports.
    for stop in (["systemctl", "disable", "--now", "prometheus"], ["service", "prometheus", "stop"]):
        if shutil.which(stop[0]):
            subprocess.run(stop, check=False, capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
