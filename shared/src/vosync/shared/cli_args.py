"""`--help` and `--version` for every vosync command, answered before anything starts.

Each service parses its command line first, so `vosync-writer --help` prints and exits instead of
connecting to NATS; settings still come from VOSYNC_* variables, which the help text points to.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from importlib import metadata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vosync.shared.lifecycle import Service
    from vosync.shared.settings import Settings

SETTINGS_EPILOG = "Settings are VOSYNC_* environment variables (see the README, 'Settings')."


def version_of(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def command_parser(prog: str, description: str, distribution: str) -> argparse.ArgumentParser:
    """A parser with `--version` ("prog 0.1.0") and the settings hint under `--help`."""
    parser = argparse.ArgumentParser(prog=prog, description=description, epilog=SETTINGS_EPILOG)
    parser.add_argument("--version", action="version", version=f"{prog} {version_of(distribution)}")
    return parser


def parse_service_args(prog: str, description: str, distribution: str, argv: list[str] | None = None) -> None:
    """For services without options of their own: only --help and --version, anything else is an error."""
    command_parser(prog, description, distribution).parse_args(argv)


def run_service(
    service: str, description: str, make: Callable[[Settings], Service], argv: list[str] | None = None
) -> None:
    """The body of `vosync-<service>`: read the command line, configure logging, run until a signal.

    `make` imports the service when called: `--help` / `--version` answer at once, also on a loaded
    machine, instead of first importing the whole service (seconds under load)."""
    prog = f"vosync-{service}"
    parse_service_args(prog, description, prog, argv)
    from vosync.shared.lifecycle import run_main
    from vosync.shared.logs import configure_logging
    from vosync.shared.settings import load_settings

    # Logging first, from the raw variables, so that a bad setting is reported through it too.
    configure_logging(
        service,
        os.environ.get("VOSYNC_LOG_LEVEL", "INFO"),
        os.environ.get("VOSYNC_LOG_FORMAT", "json"),
    )
    run_main(lambda: make(load_settings()))
