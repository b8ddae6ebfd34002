"""`vosync-api`: the api as a process (uvloop + httptools); a bad setting exits with code 2."""

from __future__ import annotations

import asyncio
import sys

from vosync.shared.cli_args import parse_service_args


def main(argv: list[str] | None = None) -> None:
    parse_service_args(
        "vosync-api",
        "Run the vosync api: reads, the cached VOS proxy, SSE and the gateway page.",
        "vosync-api",
        argv,
    )
    # Imported after the command line is read: `--help` / `--version` answer at once, also on a
    # loaded machine, instead of first importing the whole service (seconds under load).
    import uvloop

    from vosync.api.service import ApiService
    from vosync.shared.lifecycle import run_main
    from vosync.shared.logs import configure_logging
    from vosync.shared.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    configure_logging("api", settings.log_level, settings.log_format)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    run_main(lambda: ApiService(settings))


if __name__ == "__main__":
    main()
