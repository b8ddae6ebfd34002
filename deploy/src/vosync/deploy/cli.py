"""`vosync`: the local launcher. `vosync up` runs the whole system on one machine."""

from __future__ import annotations

import sys

from vosync.deploy.launcher import LaunchOptions, run_launcher
from vosync.shared.cli_args import command_parser


def main(argv: list[str] | None = None) -> None:
    parser = command_parser("vosync", "vosync on one machine", "vosync-deploy")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start NATS, PostgreSQL, the VOS simulator and the services")
    up.add_argument("--no-sim", action="store_true", help="do not start the VOS simulator")
    up.add_argument("--api-port", type=int, default=None, help="api port (default 8000 or VOSYNC_API_PORT)")
    up.add_argument("--pollers", type=int, default=1, help="number of poller processes")
    up.add_argument("--writers", type=int, default=1, help="number of writer processes")
    up.add_argument("--data-dir", default=None, help="where NATS and PostgreSQL keep data")
    up.add_argument("--sim-instances", type=int, default=2, help="simulated VOS instances")
    up.add_argument("--sim-gateways", type=int, default=200, help="gateways per simulated instance")
    args = parser.parse_args(argv)
    for name in ("pollers", "writers", "sim_instances", "sim_gateways"):
        if getattr(args, name) < (0 if name == "pollers" else 1):
            parser.error(f"--{name.replace('_', '-')} must be positive")
    options = LaunchOptions(
        with_sim=not args.no_sim,
        api_port=args.api_port,
        pollers=args.pollers,
        writers=args.writers,
        data_dir=args.data_dir,
        sim_instances=args.sim_instances,
        sim_gateways=args.sim_gateways,
    )
    sys.exit(run_launcher(options))
