"""The operator commands: each takes the parsed arguments and an ApiClient and prints its answer."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from vosync.deploy.cli.client import ApiClient, CliError
from vosync.deploy.cli.output import age, emit_json, table

PREFIX = "/api/v1"


def find_instance(api: ApiClient, ref: str) -> dict[str, Any]:
    """An instance by name or by id, as an operator types it."""
    items: list[dict[str, Any]] = api.get(f"{PREFIX}/instances")["items"]
    for item in items:
        if item["name"] == ref or str(item["id"]) == ref:
            return item
    known = ", ".join(i["name"] for i in items) or "none"
    raise CliError(f"no instance named {ref!r} (known: {known})")


def status(args: argparse.Namespace, api: ApiClient) -> None:
    reply: dict[str, Any] = api.get(f"{PREFIX}/status")
    if args.json:
        emit_json(reply)
        return
    print(render_status(reply, api.base_url))


def render_status(reply: dict[str, Any], base_url: str) -> str:
    """The reply of GET /api/v1/status as two tables (instances, services) and the errors below."""
    checked = _parse_time(reply["checked_at"])
    instances = reply["instances"]
    lines = [
        table(
            ["instance", "enabled", "vos", "config age", "online age", "gateways online/total", "poller"],
            [
                [
                    i["name"],
                    i["enabled"],
                    vos_state(i, checked),
                    age(i["config_age_s"]),
                    age(i["online_age_s"]),
                    f"{i['gateways_online']}/{i['gateways_total']}",
                    i["poller_id"],
                ]
                for i in instances
            ],
        )
        if instances
        else "no instances: add one with `vosync instances add`"
    ]
    lines += [f"  {i['name']}: {i['last_error']}" for i in instances if i["last_error"]]
    services = reply["services"]
    checks = ", ".join(f"{k} {'ok' if up else 'DOWN'}" for k, up in services["api_checks"].items())
    pollers = services["pollers"]
    writers = services["writers"]
    lines += [
        "",
        table(
            ["service", "up", "consumer lag", "ack pending", "outbox backlog", "detail"],
            [
                ["api", services["api"], None, None, None, f"{base_url} ({checks})"],
                [
                    "pollers",
                    pollers["up"] if pollers else None,
                    None,
                    None,
                    None,
                    ", ".join(pollers["ids"]) if pollers else "unknown",
                ],
                [
                    "writers",
                    writers["up"],
                    writers["consumer_lag"],
                    writers["ack_pending"],
                    writers["outbox_backlog"],
                    f"{writers['pulls_waiting']} pulls waiting" if writers["pulls_waiting"] else None,
                ],
            ],
        ),
    ]
    lines += [f"  {problem}" for problem in services["problems"]]
    return "\n".join(lines)


def vos_state(inst: dict[str, Any], now: datetime) -> str:
    state = str(inst["vos_state"])
    since = inst["failing_since"]
    if state not in ("failing", "backing_off") or since is None:
        return state.replace("_", " ")
    at = _parse_time(since)
    # Only the poller knows when a failure run began; the database knows the last success.
    since_text = "failing since" if inst["state_source"] == "poller" else "no success since"
    text = f"{since_text} {at:%H:%M:%S} UTC ({age((now - at).total_seconds())} ago)"
    return text if state == "failing" else f"backing off ({text})"


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def _instance_rows(items: list[dict[str, Any]]) -> str:
    return table(
        ["id", "name", "enabled", "base url", "description"],
        [[i["id"], i["name"], i["enabled"], i["base_url"], i["description"]] for i in items],
    )


def instances_list(args: argparse.Namespace, api: ApiClient) -> None:
    data = api.get(f"{PREFIX}/instances")
    emit_json(data) if args.json else print(_instance_rows(data["items"]))


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key in ("name", "base_url", "description", "timeout_s"):
        value = getattr(args, key, None)
        if value is not None:
            body[key] = value
    if getattr(args, "enabled", None) is not None:
        body["enabled"] = args.enabled
    return body


def instances_add(args: argparse.Namespace, api: ApiClient) -> None:
    created = api.request("POST", f"{PREFIX}/instances", _fields(args))
    emit_json(created) if args.json else print(_instance_rows([created]))


def instances_edit(args: argparse.Namespace, api: ApiClient) -> None:
    inst = find_instance(api, args.instance)
    body = _fields(args)
    if not body:
        raise CliError("nothing to change: give at least one of --name, --base-url, --description, ...")
    updated = api.request("PATCH", f"{PREFIX}/instances/{inst['id']}", body)
    emit_json(updated) if args.json else print(_instance_rows([updated]))


def instances_remove(args: argparse.Namespace, api: ApiClient) -> None:
    inst = find_instance(api, args.instance)
    api.request("DELETE", f"{PREFIX}/instances/{inst['id']}")
    emit_json({"removed": inst}) if args.json else print(f"removed instance {inst['name']}")


def sync(args: argparse.Namespace, api: ApiClient) -> None:
    inst = find_instance(api, args.instance)
    reply = api.request("POST", f"{PREFIX}/instances/{inst['id']}/sync", {"apis": args.apis or None})
    if args.json:
        emit_json(reply)
        return
    rows = [
        [
            r["api_name"],
            "ok" if r["ok"] else "failed",
            r["error"] or r["error_kind"],
            f"{r['duration_ms']:.0f} ms",
        ]
        for r in reply["results"]
    ]
    print(table(["api", "outcome", "error", "took"], rows))
    if not all(r["ok"] for r in reply["results"]):
        raise SystemExit(1)  # the table above is the explanation


def gateways(args: argparse.Namespace, api: ApiClient) -> None:
    inst = find_instance(api, args.instance)
    items: list[dict[str, Any]] = []
    offset = 0
    while True:  # the api pages at 1000 rows at most
        page = api.get(
            f"{PREFIX}/instances/{inst['id']}/gateways",
            type=args.type,
            online=None if args.online is None else str(args.online).lower(),
            limit=1000,
            offset=offset,
        )
        items += page["items"]
        offset += len(page["items"])
        if not page["items"] or offset >= page["total"]:
            break
    if args.json:
        emit_json(items)
    elif args.quiet:
        print("\n".join(g["gateway_name"] for g in items))
    else:
        rows = [
            [
                g["gateway_type"],
                g["gateway_name"],
                g["is_online"],
                g["ip_address"],
                g["asr"],
                g["acd"],
                g["concurrent_calls"],
            ]
            for g in items
        ]
        print(table(["type", "name", "online", "ip", "asr", "acd", "calls"], rows))
