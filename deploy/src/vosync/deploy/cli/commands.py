"""The operator commands: each takes the parsed arguments and an ApiClient and prints its answer."""

from __future__ import annotations

import argparse
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
    try:
        ready: Any = api.get("/health/ready")
    except CliError as exc:  # a 503 from readiness is an answer, not a failure to report alone
        ready = {"status": "not ready", "detail": str(exc)}
    rows = []
    for inst in api.get(f"{PREFIX}/instances")["items"]:
        page = api.get(f"{PREFIX}/instances/{inst['id']}/gateways", limit=1)
        counts = page["counts"]
        online = counts["mapping"]["online"] + counts["routing"]["online"]
        total = counts["mapping"]["total"] + counts["routing"]["total"]
        rows.append(
            {
                "name": inst["name"],
                "enabled": inst["enabled"],
                "synced_at": page["synced_at"],
                "online_synced_at": page["online_synced_at"],
                "online_age_s": page["age_s"],
                "gateways_online": online,
                "gateways_total": total,
            }
        )
    if args.json:
        emit_json({"api": ready, "instances": rows})
        return
    print(f"api {api.base_url}: {ready.get('status', ready) if isinstance(ready, dict) else ready}")
    print(
        table(
            ["instance", "enabled", "online data age", "gateways online/total"],
            [
                [
                    r["name"],
                    r["enabled"],
                    age(r["online_age_s"]),
                    f"{r['gateways_online']}/{r['gateways_total']}",
                ]
                for r in rows
            ],
        )
    )


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
