"""Issue 20, the page's live figures at 10,000 gateways: what one open page costs per minute.

Two ways to keep ASR, ACD and calls current on an open page, alternated in 60 s slices of one run
(A, B, A, B) against one system (simulator → poller → writer → api) with 10,000 mapping and 10,000
routing gateways, online status polled every 30 s, the simulator moving 2 % of the figures (and
flipping 2 % of the gateways) every 30 s:

- A (the page's way): the api passes the writer's change notes on (`/events/gateway-changes`); the
  page reloads the 100 rows it shows (gzip, served from the api's list cache), at most every 2 s.
- B (the alternative): an SSE stream of every changed figure. Real VOS figures (concurrent calls
  above all) move on nearly every online gateway between two polls, so B is fed what such a stream
  would carry: one event per online mapping gateway per poll (published on `gateway.online.1.mapping`
  in bursts at the poll rate, paced at 200 events per 100 ms), read by one SSE client. They land in
  this throwaway stack's EVENTS stream too, which upsets the writer's outbox relay (log noise, writer
  CPU); the figures here are the api's and the client's.

Per open page per minute: bytes on the wire (what the client reads: SSE plus replies), requests,
and the api's CPU seconds (user + system of the api process during the slice; the real pipeline's
notes and list-cache invalidations run in both slices).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from datetime import UTC, datetime

import httpx
import nats

from benchmarks.common import record
from benchmarks.harness import Stack, http_json, stack, wait_for
from vosync.shared import bus

GATEWAYS = 10_000
ONLINE_POLL_S = 30.0
SLICE_S = 60.0
SLICES = 2  # of each of A and B, alternated
# B's events go out at most this many per 100 ms: 1,000 overran the api's 1,024-event client queue
# (the client was dropped) on this machine.
PACE = 200
RELOAD_MIN_S = 2.0  # the page's LIVE_RELOAD_MIN_MS
PAGE_QUERY = {"type": "mapping", "limit": "100"}
SHOWN_APIS = {"GetGatewayMappingOnline", "GetGatewayMapping"}


async def slice_a(s: Stack, instance_id: int) -> dict[str, float]:
    """One open page the page's way, for SLICE_S: change notes in, a reload of the shown rows out."""
    wire = requests = notes = 0
    cpu0 = s.children["api"].cpu_seconds()
    deadline = time.monotonic() + SLICE_S
    last_reload = 0.0
    pending: asyncio.Task[None] | None = None
    async with httpx.AsyncClient(base_url=s.api_url, timeout=30) as client:

        async def reload() -> None:
            nonlocal wire, requests, last_reload
            await asyncio.sleep(max(0.0, last_reload + RELOAD_MIN_S - time.monotonic()))
            last_reload = time.monotonic()
            reply = await client.get(
                f"/api/v1/instances/{instance_id}/gateways",
                params=PAGE_QUERY,
                headers={"Accept-Encoding": "gzip"},
            )
            reply.raise_for_status()
            wire += reply.num_bytes_downloaded  # the body as sent (gzip)
            requests += 1

        url = "/api/v1/events/gateway-changes"
        async with client.stream("GET", url, params={"instance_id": instance_id}) as stream:
            requests += 1  # the stream itself, once per page
            buffer = b""
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    async for chunk in stream.aiter_raw():
                        wire += len(chunk)
                        buffer += chunk.replace(b"\r\n", b"\n")
                        while b"\n\n" in buffer:
                            block, buffer = buffer.split(b"\n\n", 1)
                            data = [ln[5:].strip() for ln in block.split(b"\n") if ln.startswith(b"data:")]
                            if not data:
                                continue
                            notes += 1
                            note = json.loads(data[0])
                            if SHOWN_APIS & set(note["changed"]) and (pending is None or pending.done()):
                                pending = asyncio.create_task(reload())
            if pending is not None and not pending.done():
                pending.cancel()
    cpu = s.children["api"].cpu_seconds() - cpu0
    per_min = 60.0 / SLICE_S
    return {
        "bytes": wire * per_min,
        "requests": requests * per_min,
        "notes": notes * per_min,
        "cpu_s": cpu * per_min,
    }


async def slice_b(s: Stack, instance_id: int, online: int) -> dict[str, float]:
    """One open page fed every changed figure over SSE, for SLICE_S."""
    wire = events = dropped = 0
    cpu0 = s.children["api"].cpu_seconds()
    nc = await nats.connect(s.nats_url)
    subject = bus.event_subject(instance_id, "mapping")

    async def publish() -> None:
        start = time.monotonic()
        polls = 0
        while time.monotonic() - start < SLICE_S:
            at = datetime.now(UTC).isoformat()
            for first in range(0, online, PACE):
                for i in range(first, min(online, first + PACE)):
                    body = {
                        "instance_id": instance_id,
                        "gateway_type": "mapping",
                        "gateway_name": f"figures-{i:05d}",
                        "is_online": True,
                        "previous": True,
                        "changed_at": at,
                        "asr": 45.67,
                        "acd": 123.0,
                        "concurrent_calls": 17,
                    }
                    await nc.publish(subject, json.dumps(body).encode())
                await nc.flush()
                await asyncio.sleep(0.1)
            polls += 1
            await asyncio.sleep(max(0.0, start + polls * ONLINE_POLL_S - time.monotonic()))

    try:
        async with httpx.AsyncClient(base_url=s.api_url, timeout=30) as client:
            params = {"instance_id": instance_id}
            async with client.stream("GET", "/api/v1/events/gateway-online", params=params) as stream:
                publisher = asyncio.create_task(publish())
                with contextlib.suppress(TimeoutError, httpx.ReadError, httpx.RemoteProtocolError):
                    async with asyncio.timeout(SLICE_S + 5):
                        async for chunk in stream.aiter_raw():
                            wire += len(chunk)
                            events += chunk.count(b"event: gateway.online")
                if not publisher.done():
                    dropped = 1  # the stream ended early: the api dropped a client that fell behind
                    publisher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await publisher
    finally:
        await nc.close()
    cpu = s.children["api"].cpu_seconds() - cpu0
    per_min = 60.0 / SLICE_S
    return {
        "bytes": wire * per_min,
        "requests": 1 * per_min,
        "events": events * per_min,
        "cpu_s": cpu * per_min,
        "dropped": dropped,
    }


def online_mapping(s: Stack, instance_id: int) -> int:
    page = http_json("GET", f"{s.api_url}/api/v1/instances/{instance_id}/gateways?type=mapping&limit=1")
    return int(page["counts"]["mapping"]["online"])


async def measure(s: Stack, instance_id: int) -> dict[str, float | int | str]:
    online = online_mapping(s, instance_id)
    a: list[dict[str, float]] = []
    b: list[dict[str, float]] = []
    for _ in range(SLICES):
        a.append(await slice_a(s, instance_id))
        b.append(await slice_b(s, instance_id, online))

    def mean(runs: list[dict[str, float]], key: str) -> float:
        return sum(r[key] for r in runs) / len(runs)

    figures: dict[str, float | int | str] = {
        "live_figures_gateways": GATEWAYS,
        "live_figures_online_mapping": online,
        "live_notes_page_kb_per_min": round(mean(a, "bytes") / 1024, 1),
        "live_notes_page_requests_per_min": round(mean(a, "requests"), 1),
        "live_notes_per_min": round(mean(a, "notes"), 1),
        "live_notes_api_cpu_s_per_min": round(mean(a, "cpu_s"), 2),
        "live_stream_page_kb_per_min": round(mean(b, "bytes") / 1024, 1),
        "live_stream_events_per_min": round(mean(b, "events"), 0),
        "live_stream_api_cpu_s_per_min": round(mean(b, "cpu_s"), 2),
        "live_stream_clients_dropped": int(sum(r["dropped"] for r in b)),
    }
    figures["live_stream_vs_notes_bytes_ratio"] = round(mean(b, "bytes") / max(mean(a, "bytes"), 1), 1)
    figures["live_stream_vs_notes_cpu_ratio"] = round(mean(b, "cpu_s") / max(mean(a, "cpu_s"), 1e-3), 2)
    return figures


def main() -> None:
    intervals = json.dumps(
        {
            "GetGatewayMappingOnline": ONLINE_POLL_S,
            "GetGatewayRoutingOnline": ONLINE_POLL_S,
            "GetGatewayMapping": 300.0,
            "GetGatewayRouting": 300.0,
        }
    )
    with stack("live_figures") as s:
        sim_url, instance_id = s.start_with_one_instance(
            gateways=GATEWAYS, poller={"VOSYNC_POLL_INTERVALS": intervals}
        )

        def synced() -> bool:
            page = http_json("GET", f"{s.api_url}/api/v1/instances/{instance_id}/gateways?limit=1")
            counts = page["counts"]
            return bool(counts["mapping"]["total"] == GATEWAYS and counts["routing"]["total"] == GATEWAYS)

        wait_for(synced, 180, "the first sync of 20,000 gateways", 1.0)
        http_json("POST", f"{sim_url}/_sim/changes", {"interval_s": ONLINE_POLL_S, "fraction": 0.02})
        figures = asyncio.run(measure(s, instance_id))
        figures.update(s.rss_figures("live_figures", ("api",)))
        record(figures)


if __name__ == "__main__":
    main()
