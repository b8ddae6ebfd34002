"""`vos-sim`: serve K simulated VOS3000 instances until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from importlib import metadata


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vos-sim", description="Simulated VOS3000 web API instances.")
    parser.add_argument("--version", action="version", version=f"vos-sim {metadata.version('vosync-sim')}")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18080, help="port of instance 0; instance i on port+i")
    parser.add_argument("--instances", type=int, default=1)
    parser.add_argument("--gateways", type=int, default=100, help="mapping and routing gateways, each")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--change-interval", type=float, default=10.0, help="seconds between drift steps; 0 = off"
    )
    parser.add_argument(
        "--change-fraction", type=float, default=0.02, help="share of gateways changed per step"
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    # Imported here, not at the top: `--help` / `--version` answer without loading the simulator.
    from vosync.sim.cluster import SimCluster

    cluster = SimCluster(
        host=args.host,
        base_port=args.port,
        instances=args.instances,
        gateways=args.gateways,
        seed=args.seed,
        change_interval_s=args.change_interval,
        change_fraction=args.change_fraction,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with cluster:
        for index, url in enumerate(cluster.urls):
            print(f"vos-sim instance {index} {url}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(serve(args))
    except (ValueError, OSError) as exc:
        print(f"vos-sim: error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
