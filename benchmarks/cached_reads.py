"""Benchmark 1: cached reads through the api, beside two bare Litestar baselines in the same run.

The simulator serves one instance with 1,000 mapping (and 1,000 routing) gateways. The reply gets
into `vos_data_cache` through the real path: `POST /instances/1/sync` asks the poller, which fetches
from the simulator and publishes the result; the writer stores it (and the gateways table). Then wrk
loads, 50 connections for 10 s after a warm-up, from loopback:

- the api: POST /api/v1/vos-api/instances/1/GetGatewayMapping (fresh row → in-process cache),
- the api: GET /api/v1/instances/1/gateways?limit=100 (a page of the gateways table, held in the
  api's memory after the first read),
- the api: the same proxy read with `Accept-Encoding: gzip` (the reply compressed once, in memory),
- baseline `static`: a bare Litestar route answering the api's reply bytes held in memory — for each
  of the three above, its own bytes (the proxy reply, the page, the gzip reply with its header),
- baseline `pk`: a bare Litestar route answering the same JSON read by primary key (one asyncpg select).

The poller and writer stay up but idle (schedules pushed out to a day), so the load sees only the api.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import asyncpg

from benchmarks.common import WrkResult, record, wrk
from benchmarks.harness import Stack, http_json, plain_pg_url, stack, wait_for
from vosync.deploy.processes import free_port

GATEWAYS = 1000
SLICES, SLICE_S = 5, 2  # the api and the in-memory route alternate in 2 s slices, 10 s each
# The poller pinned to an instance that does not exist: it leases nothing and runs no schedule, but
# serves every on-demand fetch (sync, proxy misses), so only asked-for fetches touch the data.
NO_INSTANCE = "999999"  # VOSYNC_POLLER_INSTANCES
GATEWAY_APIS = [
    "GetGatewayMapping",
    "GetGatewayRouting",
    "GetGatewayMappingOnline",
    "GetGatewayRoutingOnline",
]


def sync_now(s: Stack, instance_id: int, apis: list[str]) -> None:
    """Ask for a fetch of each API until every one succeeds (the poller learns the instance from KV)."""

    def all_ok() -> bool:
        reply = http_json("POST", f"{s.api_url}/api/v1/instances/{instance_id}/sync", {"apis": apis})
        return all(r["ok"] for r in reply["results"])

    wait_for(all_ok, 30, "sync of the gateway APIs", 0.3)


async def cache_row_id(database_url: str, instance_id: int, api_name: str) -> int | None:
    conn = await asyncpg.connect(plain_pg_url(database_url))
    try:
        row_id: int | None = await conn.fetchval(
            "SELECT id FROM vos_data_cache WHERE vos_instance_id = $1 AND api_name = $2 AND is_valid"
            " AND expires_at > now()",
            instance_id,
            api_name,
        )
        return row_id
    finally:
        await conn.close()


async def gateway_count(database_url: str, instance_id: int) -> int:
    conn = await asyncpg.connect(plain_pg_url(database_url))
    try:
        return int(
            await conn.fetchval("SELECT count(*) FROM gateways WHERE vos_instance_id = $1", instance_id)
        )
    finally:
        await conn.close()


def wait_stored(s: Stack, instance_id: int) -> int:
    """The id of the fresh GetGatewayMapping row, once the writer has stored it and both gateway kinds."""
    found: list[int] = []

    def stored() -> bool:
        row_id = asyncio.run(cache_row_id(s.database_url, instance_id, "GetGatewayMapping"))
        if row_id is None or asyncio.run(gateway_count(s.database_url, instance_id)) < 2 * GATEWAYS:
            return False
        found.append(row_id)
        return True

    wait_for(stored, 60, "the writer storing the reply and the gateways", 0.2)
    return found[-1]


@contextlib.contextmanager
def baseline(s: Stack, mode: str, args: list[str]) -> Iterator[str]:
    """A baseline server (its own process, served like the api) for the length of the block."""
    port = free_port()
    child = s.spawn(
        f"baseline-{mode}",
        [sys.executable, "-m", "benchmarks.baseline_server", mode, "--port", str(port), *args],
        s.env(),
    )
    try:
        url = f"http://127.0.0.1:{port}/reply"
        wait_for(lambda: _answers(url, "{}"), 30, f"baseline {mode}", 0.1)
        yield url
    finally:
        child.stop()


def alternated(baseline_url: str, api_url: str, **load: Any) -> tuple[WrkResult, WrkResult]:
    """The baseline and the api under the same load, 10 s each in alternating 2 s slices after one
    warm-up each, so that drift on a shared machine hits both alike."""
    runs: tuple[list[WrkResult], list[WrkResult]] = ([], [])
    for i in range(SLICES):
        warmup = 2 if i == 0 else 0
        for target, url in enumerate((baseline_url, api_url)):
            runs[target].append(wrk(url, duration_s=SLICE_S, warmup_s=warmup, **load))
    return WrkResult.combine(runs[0]), WrkResult.combine(runs[1])


def _answers(url: str, body: str) -> bool:
    """Whether the route answers 200 (its bytes may be gzip, so they are not parsed)."""
    try:
        _raw(url, body.encode(), want_encoding=None, check_encoding=False)
        return True
    except OSError:
        return False


def main() -> None:
    with stack("cached_reads") as s:
        _, instance_id = s.start_with_one_instance(
            gateways=GATEWAYS, poller={"VOSYNC_POLLER_INSTANCES": NO_INSTANCE}
        )
        sync_now(s, instance_id, GATEWAY_APIS)
        row_id = wait_stored(s, instance_id)

        proxy_url = f"{s.api_url}/api/v1/vos-api/instances/{instance_id}/GetGatewayMapping"
        gateways_url = f"{s.api_url}/api/v1/instances/{instance_id}/gateways?limit=100"
        reply = http_json("POST", proxy_url, {})
        if reply["data_source"] != "database" or len(reply["data"]["infoGatewayMappings"]) != GATEWAYS:
            raise RuntimeError(f"unexpected proxy reply: source {reply['data_source']}")
        body_file = s.work / "reply.json"
        body_file.write_bytes(_raw_post(proxy_url))
        page = http_json("GET", gateways_url)
        if len(page["items"]) != 100:
            raise RuntimeError(f"gateways page has {len(page['items'])} items, not 100")

        figures: dict[str, float | int | str] = {
            "cached_read_reply_kb": round(body_file.stat().st_size / 1024)
        }
        with baseline(s, "static", ["--body-file", str(body_file)]) as static_url:
            static, api = alternated(static_url, proxy_url, method="POST", body="{}")
        figures |= static.figures("baseline_static") | api.figures("api_cached_read")
        with baseline(s, "pk", ["--database-url", s.database_url, "--row-id", str(row_id)]) as pk_url:
            figures |= wrk(pk_url, method="POST", body="{}").figures("baseline_pk")
        # The page the gateway page reads, against the same bytes from memory.
        page_file = s.work / "page.json"
        page_file.write_bytes(_raw(gateways_url, None))
        with baseline(s, "static", ["--body-file", str(page_file)]) as page_static_url:
            static_page, api_page = alternated(page_static_url, gateways_url)
        figures |= static_page.figures("baseline_gateways_static") | api_page.figures("api_gateways_page")
        figures["api_gateways_page_kb"] = round(page_file.stat().st_size / 1024, 1)
        figures["api_gateways_page_vs_static_ratio"] = round(
            api_page.requests_per_s / static_page.requests_per_s, 3
        )
        # The proxy read with gzip accepted, against the same compressed bytes (and header) from memory.
        gzip_headers = {"Accept-Encoding": "gzip"}
        gzip_file = s.work / "reply.json.gz"
        gzip_file.write_bytes(_raw_post(proxy_url, headers=gzip_headers, want_encoding="gzip"))
        static_gzip_args = ["--body-file", str(gzip_file), "--content-encoding", "gzip"]
        with baseline(s, "static", static_gzip_args) as gzip_static_url:
            static_gz, api_gz = alternated(
                gzip_static_url, proxy_url, method="POST", body="{}", headers=gzip_headers
            )
        figures |= static_gz.figures("baseline_static_gzip") | api_gz.figures("api_cached_read_gzip")
        figures["cached_read_gzip_kb"] = round(gzip_file.stat().st_size / 1024, 1)
        figures["cached_read_gzip_vs_plain_bytes_ratio"] = round(
            gzip_file.stat().st_size / body_file.stat().st_size, 3
        )
        figures["api_cached_read_gzip_vs_static_ratio"] = round(
            api_gz.requests_per_s / static_gz.requests_per_s, 3
        )
        # The same route with a small reply (10 named gateways, its own key, cached after one
        # fetch), to show what the api costs per request when the payload does not dominate.
        names = [g["name"] for g in reply["data"]["infoGatewayMappings"][:10]]
        small = json.dumps({"names": names}, ensure_ascii=False)
        http_json("POST", proxy_url, {"names": names})
        wait_for(
            lambda: http_json("POST", proxy_url, {"names": names})["data_source"] == "database",
            30,
            "the small reply cached",
        )
        figures["cached_read_small_reply_kb"] = round(len(_raw_post(proxy_url, small.encode())) / 1024, 1)
        figures |= wrk(proxy_url, method="POST", body=small).figures("api_cached_read_small")

        after = http_json("POST", proxy_url, {})
        if after["data_source"] != "database":
            raise RuntimeError("the cached row stopped being fresh during the run")
        figures["api_cached_read_vs_static_ratio"] = round(
            float(figures["api_cached_read_rps"]) / float(figures["baseline_static_rps"]), 3
        )
        figures["api_cached_read_vs_pk_select_ratio"] = round(
            float(figures["api_cached_read_rps"]) / float(figures["baseline_pk_rps"]), 3
        )
        figures |= s.rss_figures("cached_reads")
        record(figures)


def _raw_post(
    url: str,
    body: bytes = b"{}",
    headers: dict[str, str] | None = None,
    want_encoding: str | None = None,
) -> bytes:
    return _raw(url, body, headers, want_encoding)


def _raw(
    url: str,
    body: bytes | None,
    headers: dict[str, str] | None = None,
    want_encoding: str | None = None,
    check_encoding: bool = True,
) -> bytes:
    """The reply's bytes as sent (urllib decompresses nothing); POST with a body, else GET."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST" if body is not None else "GET",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        if check_encoding and resp.headers.get("Content-Encoding") != want_encoding:
            raise RuntimeError(f"{url}: Content-Encoding {resp.headers.get('Content-Encoding')!r}")
        return bytes(resp.read())


if __name__ == "__main__":
    main()
