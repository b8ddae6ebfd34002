"""`vosync-poller`: run one poller until SIGTERM/SIGINT."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vosync.shared.cli_args import run_service

if TYPE_CHECKING:
    from vosync.poller.service import PollerService
    from vosync.shared.settings import Settings


def _poller(settings: Settings) -> PollerService:
    from vosync.poller.service import PollerService  # only once the command line is read (see run_service)

    return PollerService(settings)


def main(argv: list[str] | None = None) -> None:
    run_service("poller", "Run a vosync poller: fetches the VOS APIs on their schedules.", _poller, argv)


if __name__ == "__main__":
    main()
