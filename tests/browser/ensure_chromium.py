"""Install Debian's chromium for the browser tests when it is missing (no browser download)."""

from __future__ import annotations

import os
import shutil
import sys

from tests.support.debian_packages import install_missing

CHROMIUM = "/usr/bin/chromium"


def main() -> int:
    if os.path.exists(CHROMIUM) or shutil.which("chromium"):
        return 0
    # A small CJK font so the page's Chinese labels render in screenshots instead of boxes.
    install_missing("chromium", ["chromium", "fonts-wqy-microhei"], for_tests="browser")
    return 0


if __name__ == "__main__":
    sys.exit(main())
