"""`vosync-writer`: run one writer until SIGTERM/SIGINT."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vosync.shared.cli_args import run_service

if TYPE_CHECKING:
    from vosync.shared.settings import Settings
    from vosync.writer.service import WriterService


def _writer(settings: Settings) -> WriterService:
    from vosync.writer.service import WriterService  # only once the command line is read (see run_service)

    return WriterService(settings)


def main(argv: list[str] | None = None) -> None:
    run_service(
        "writer", "Run a vosync writer: VOS results into PostgreSQL and gateway.online events.", _writer, argv
    )


if __name__ == "__main__":
    main()
