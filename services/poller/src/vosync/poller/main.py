"""`vosync-poller`: run one poller until SIGTERM/SIGINT."""

from __future__ import annotations

import os

from vosync.shared.cli_args import parse_service_args


def main(argv: list[str] | None = None) -> None:
    parse_service_args(
        "vosync-poller",
        "Run a vosync poller: fetches the VOS APIs on their schedules.",
        "vosync-poller",
        argv,
    )
    # Imported after the command line is read: `--help` / `--version` answer at once, also on a
    # loaded machine, instead of first importing the whole service (seconds under load).
    from vosync.poller.service import PollerService
    from vosync.shared.lifecycle import run_main
    from vosync.shared.logs import configure_logging
    from vosync.shared.settings import load_settings

    # Logging first, from the raw variables, so that a bad setting is reported through it too.
    configure_logging(
        "poller",
        os.environ.get("VOSYNC_LOG_LEVEL", "INFO"),
        os.environ.get("VOSYNC_LOG_FORMAT", "json"),
    )
    run_main(lambda: PollerService(load_settings()))


if __name__ == "__main__":
    main()
