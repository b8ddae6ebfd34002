"""Install Debian's chromium for the browser tests when it is missing (no browser download)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

CHROMIUM = "/usr/bin/chromium"


def main() -> int:
    if os.path.exists(CHROMIUM) or shutil.which("chromium"):
        return 0
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print(
            "note: chromium is missing and cannot be installed here; browser tests will be skipped",
            file=sys.stderr,
        )
        return 0
    print("installing Debian's chromium for the browser tests ...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    done = subprocess.run(
        # A small CJK font so the page's Chinese labels render in screenshots instead of boxes.
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium", "fonts-wqy-microhei"],
        check=False,
        env=env,
    )
    if done.returncode != 0:
        print("note: chromium could not be installed; browser tests will be skipped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
