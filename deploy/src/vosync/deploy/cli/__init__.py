"""`vosync`: the launcher (`vosync up`) and the operator commands that drive a running stack."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from vosync.deploy.cli import commands
from vosync.deploy.cli.client import ApiClient, CliError
from vosync.shared.cli_args import command_parser

DEFAULT_API = "http://127.0.0.1:8000"


def _up(args: argparse.Namespace) -> None:
    from vosync.deploy.launcher import LaunchOptions, run_launcher  # the heavy imports only for `up`

    for name in ("pollers", "writers", "sim_instances", "sim_gateways"):
        if getattr(args, name) < (0 if name == "pollers" else 1):
            raise CliError(f"--{name.replace('_', '-')} must be positive")
    options = LaunchOptions(
        with_sim=not args.no_sim,
        api_port=args.api_port,
        pollers=args.pollers,
        writers=args.writers,
        data_dir=args.data_dir,
        sim_instances=args.sim_instances,
        sim_gateways=args.sim_gateways,
        monitoring=args.monitoring,
    )
    sys.exit(run_launcher(options))


def _migrate(args: argparse.Namespace) -> None:
    from vosync.deploy.cli.migrate import migrate  # alembic only for `migrate`

    migrate(args)


def _add_up(commands_: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = commands_.add_parser("up", help="start NATS, PostgreSQL, the VOS simulator and the services")
    up.add_argument("--no-sim", action="store_true", help="do not start the VOS simulator")
    up.add_argument("--api-port", type=int, default=None, help="api port (default 8000 or VOSYNC_API_PORT)")
    up.add_argument("--pollers", type=int, default=1, help="number of poller processes")
    up.add_argument("--writers", type=int, default=1, help="number of writer processes")
    up.add_argument("--data-dir", default=None, help="where NATS and PostgreSQL keep data")
    up.add_argument("--sim-instances", type=int, default=2, help="simulated VOS instances")
    up.add_argument("--sim-gateways", type=int, default=200, help="gateways per simulated instance")
    up.add_argument(
        "--monitoring",
        action="store_true",
        help="also Prometheus (and Alertmanager, where installed) with vosync's alert rules",
    )
    up.set_defaults(run=_up, needs_api=False)


def _instance_fields(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--name", required=required, help="a unique name")
    parser.add_argument(
        "--base-url", dest="base_url", required=required, help="the VOS web API, http://host:port"
    )
    parser.add_argument("--description")
    parser.add_argument("--timeout", dest="timeout_s", type=float, help="VOS call timeout, seconds")
    enabled = parser.add_mutually_exclusive_group()
    enabled.add_argument("--enable", dest="enabled", action="store_const", const=True, help="poll it")
    enabled.add_argument(
        "--disable", dest="enabled", action="store_const", const=False, help="stop polling it"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = command_parser("vosync", "vosync on one machine, and the operator's commands", "vosync-deploy")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--api", default=os.environ.get("VOSYNC_API_URL", DEFAULT_API), help="the api's URL")
    common.add_argument("--json", action="store_true", help="the api's JSON instead of a table")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_up(sub)

    def add(
        name: str,
        run: Callable[..., None],
        help_: str,
        p: argparse._SubParsersAction[argparse.ArgumentParser] = sub,
    ) -> argparse.ArgumentParser:
        cmd = p.add_parser(name, parents=[common], help=help_, description=help_)
        cmd.set_defaults(run=run, needs_api=True)
        return cmd

    add("status", commands.status, "each instance's VOS state, data ages and gateways; each service's state")
    instances = sub.add_parser("instances", help="list, add, edit or remove VOS instances")
    isub = instances.add_subparsers(dest="action", required=True, metavar="ACTION")
    add("list", commands.instances_list, "the registered VOS instances", isub)
    _instance_fields(add("add", commands.instances_add, "register a VOS instance", isub), required=True)
    edit = add("edit", commands.instances_edit, "change a VOS instance", isub)
    edit.add_argument("instance", help="name or id")
    _instance_fields(edit, required=False)
    add("remove", commands.instances_remove, "remove a VOS instance and its data", isub).add_argument(
        "instance", help="name or id"
    )
    sync = add("sync", commands.sync, "fetch VOS APIs of an instance now and print each outcome")
    sync.add_argument("instance", help="name or id")
    sync.add_argument("apis", nargs="*", metavar="API", help="API names (default: all scheduled ones)")
    gw = add("gateways", commands.gateways, "an instance's gateways from the local copy")
    gw.add_argument("instance", help="name or id")
    gw.add_argument("--type", choices=["mapping", "routing"])
    state = gw.add_mutually_exclusive_group()
    state.add_argument("--online", dest="online", action="store_const", const=True, help="online only")
    state.add_argument("--offline", dest="online", action="store_const", const=False, help="offline only")
    gw.add_argument("-q", "--quiet", action="store_true", help="names only, one a line")
    mig = sub.add_parser(
        "migrate", help="the database schema (VOSYNC_DATABASE_URL)", description="the schema"
    )
    mig.add_argument("action", nargs="?", choices=["upgrade", "current", "history"], default="upgrade")
    mig.add_argument("--json", action="store_true", help="JSON instead of text")
    mig.set_defaults(run=_migrate, needs_api=False)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        if args.needs_api:
            args.run(args, ApiClient(args.api, os.environ.get("VOSYNC_API_KEY") or None))
        else:
            args.run(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
