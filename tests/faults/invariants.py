"""The promises of vosync, checked from the outside at the end of every fault scenario.

1. `check_results_accounted`: every message on VOS_RESULTS was applied (the vos_data_cache row of
   its key reflects the newest result of that key: last_attempt_at, synced_at, response_data, error),
   or is in VOS_DEAD_LETTER with a reason (matched by stream sequence), or belongs to an instance
   that does not exist; the poller's scheduled GetPhoneOnline batches, which are projected but not
   cached, are reflected by the phones rows (each number's newest successful details); and the
   writer's consumer has nothing pending or unacknowledged.
2. `wait_gateways_match` / `gateway_diff`: the gateways table equals the simulator's truth
   (`GET /_sim/gateways`): the names of each type and their online flags.
3. `check_events_exactly_once`: every outbox row (gateways' and phones') is published exactly once
   on GATEWAY_EVENTS (no duplicate event_id, Nats-Msg-Id or (instance, type, name, changed_at);
   count = outbox rows), and each gateway's (phone's) events alternate on/off with `previous` = the
   state before, ending in the state the gateways (phones) table holds.
4. `check_api_answers`: every request to the api was answered in time with data (200 JSON) or a
   documented JSON error (400/403/404/502/503), never a 500 or a hang; connection failures only
   while the api process was down.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
import httpx
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from tests.support.waiting import wait_for
from vosync.shared import bus
from vosync.shared.catalogue import Catalogue, Projection, UnknownApiError, WriteApiError
from vosync.shared.codec import decode
from vosync.shared.messages import FetchResult, GatewayOnlineEvent, PhoneOnlineEvent
from vosync.writer.jsontext import pg_json
from vosync.writer.results import InvalidResult, checked, with_canonical_fields

T = TypeVar("T")

DEAD_REASON = "Vosync-Dead-Reason"
DEAD_STAGE = "Vosync-Dead-Stage"
DEAD_SEQ = "Vosync-Dead-Stream-Seq"
DOCUMENTED_ERRORS = frozenset({400, 403, 404, 502, 503})


class InvariantError(AssertionError):
    """A promise of vosync does not hold; the message lists the first offenders."""


def _fail(what: str, problems: Sequence[str], limit: int = 12) -> None:
    if problems:
        shown = "\n  ".join(problems[:limit])
        more = f"\n  … and {len(problems) - limit} more" if len(problems) > limit else ""
        raise InvariantError(f"{what}: {len(problems)} violation(s)\n  {shown}{more}")


async def poll_until(
    check: Callable[[], Awaitable[T | None]], timeout_s: float, what: str, interval_s: float = 0.2
) -> T:
    """`check()` until it returns something truthy; AssertionError naming `what` after the deadline."""
    return await wait_for(check, timeout_s, what, interval_s=interval_s)


# -- reading streams ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamMsg:
    seq: int
    subject: str
    data: bytes
    headers: dict[str, str]


async def iter_stream(js: JetStreamContext, stream: str) -> AsyncIterator[StreamMsg]:
    """Every message stored in `stream`, in order, through an ephemeral consumer (no acks); streamed,
    so a long soak's results need not fit in memory at once."""
    info = await js.stream_info(stream)
    if not info.state.messages:
        return
    last, expected, seen = info.state.last_seq, info.state.messages, 0
    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.NONE,
        inactive_threshold=30.0,
        max_ack_pending=-1,
    )
    subjects = info.config.subjects or [">"]
    if len(subjects) > 1:  # GATEWAY_EVENTS: gateway.online.> and phone.online.>
        config.filter_subjects = list(subjects)
    sub = await js.pull_subscribe(subjects[0], stream=stream, config=config)
    try:
        seq = 0
        while seq < last:
            try:
                batch = await sub.fetch(256, timeout=5)
            except TimeoutError:
                break
            for msg in batch:
                seq = msg.metadata.sequence.stream
                seen += 1
                yield StreamMsg(seq, msg.subject, msg.data, dict(msg.headers or {}))
    finally:
        await sub.unsubscribe()
    if seen < expected:
        raise InvariantError(f"read {seen} of {expected} messages of {stream}")


async def read_stream(js: JetStreamContext, stream: str) -> list[StreamMsg]:
    return [msg async for msg in iter_stream(js, stream)]


async def consumer_idle(js: JetStreamContext) -> bool:
    """The writer's consumer has delivered and settled (acked or terminated) every stored result."""
    info = await js.consumer_info(bus.RESULTS_STREAM, bus.WRITER_DURABLE)
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


async def outbox_published(conn: asyncpg.Connection) -> bool:
    left = await conn.fetchval("SELECT count(*) FROM gateway_event_outbox WHERE published_at IS NULL")
    return bool(left == 0)


async def wait_writer_drained(js: JetStreamContext, conn: asyncpg.Connection, timeout_s: float = 60) -> None:
    async def drained() -> bool:
        return await consumer_idle(js) and await outbox_published(conn)

    await poll_until(drained, timeout_s, "the writer to settle every result and publish its outbox")


# -- 1. every result applied or dead-lettered -------------------------------------------------------


@dataclass
class ResultsReport:
    messages: int = 0
    applied: int = 0  # decoded, of a known instance, reflected by (or older than) its cache row
    dead_lettered: int = 0
    unknown_instance: int = 0
    keys: int = 0
    error_kinds: Counter[str] = field(default_factory=Counter)  # of the applied failures
    dead_stages: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        return (
            f"{self.messages} results: {self.applied} applied, {self.dead_lettered} dead-lettered,"
            f" {self.unknown_instance} of unknown instances; {self.keys} keys;"
            f" failures {dict(self.error_kinds)}; dead stages {dict(self.dead_stages)}"
        )


def _stored_response(result: FetchResult, catalogue: Catalogue) -> Any:
    """The response as the writer stores it: canonical field spellings, jsonb-safe JSON."""
    try:
        spec = catalogue.spec(result.api_name)
    except (UnknownApiError, WriteApiError):
        spec = None
    if spec is not None and spec.projection is not Projection.NONE and spec.list_key:
        result = with_canonical_fields(result, spec.list_key)
    return json.loads(pg_json(result.response))


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@dataclass
class _KeyFold:
    """What the cache row of one key must reflect: its newest result and its newest success."""

    count: int = 0
    newest: FetchResult | None = None
    newest_ok: FetchResult | None = None

    def add(self, result: FetchResult) -> None:
        self.count += 1
        if self.newest is None or result.fetched_at >= self.newest.fetched_at:
            self.newest = result
        if result.ok and (self.newest_ok is None or result.fetched_at >= self.newest_ok.fetched_at):
            self.newest_ok = result


async def check_results_accounted(
    js: JetStreamContext,
    conn: asyncpg.Connection,
    *,
    catalogue: Catalogue | None = None,
    settle_timeout_s: float = 60,
) -> ResultsReport:
    """Invariant 1. Call when no more results are being published (pollers stopped)."""
    catalogue = catalogue or Catalogue()
    await wait_writer_drained(js, conn, settle_timeout_s)
    dead: dict[int, StreamMsg] = {}
    report = ResultsReport()
    problems: list[str] = []
    async for msg in iter_stream(js, bus.DEAD_LETTER_STREAM):
        seq = int(msg.headers.get(DEAD_SEQ, "0"))
        if not msg.headers.get(DEAD_REASON, "").strip("- "):
            problems.append(f"dead letter of stream seq {seq} has no reason")
        if seq in dead:
            problems.append(f"stream seq {seq} dead-lettered twice")
        dead[seq] = msg
    known = {r["id"] for r in await conn.fetch("SELECT id FROM vos_instances")}
    folds: dict[tuple[int, str, str], _KeyFold] = defaultdict(_KeyFold)
    # The poller's scheduled GetPhoneOnline batches are projected into `phones`, not cached (issue
    # 22): each number's newest successful details must be what its row holds.
    details: dict[tuple[int, str], tuple[datetime, dict[str, Any]]] = {}
    async for msg in iter_stream(js, bus.RESULTS_STREAM):
        report.messages += 1
        if msg.seq in dead:
            report.dead_lettered += 1
            report.dead_stages[dead[msg.seq].headers.get(DEAD_STAGE, "?")] += 1
            continue
        try:
            result = checked(decode(FetchResult, msg.data, msg.headers))
        except (InvalidResult, ValueError) as exc:
            problems.append(
                f"seq {msg.seq} on {msg.subject}: not applicable ({exc!s:.80}), not dead-lettered"
            )
            continue
        if result.instance_id not in known:
            report.unknown_instance += 1
            continue
        report.applied += 1
        if result.error_kind is not None:
            report.error_kinds[result.error_kind.value] += 1
        if _detail_batch(result, catalogue):
            _note_details(details, result)
            continue
        folds[(result.instance_id, result.api_path, result.cache_key)].add(result)
    report.keys = len(folds)
    problems.extend(await _check_details(conn, details))
    rows = {
        (r["vos_instance_id"], r["api_path"], r["cache_key"]): r
        for r in await conn.fetch(
            """SELECT vos_instance_id, api_path, cache_key, last_attempt_at, synced_at, response_data,
                      is_valid, error_kind, last_error_at
               FROM vos_data_cache"""
        )
    }
    for key, fold in folds.items():
        problems.extend(_check_row(key, fold, rows.get(key), catalogue))
    _fail("results neither applied nor dead-lettered", problems)
    return report


def _detail_batch(result: FetchResult, catalogue: Catalogue) -> bool:
    try:
        spec = catalogue.spec(result.api_name)
    except (UnknownApiError, WriteApiError):
        return False
    return spec.projection is Projection.PHONE_DETAIL and result.reason.value == "schedule"


def _note_details(
    details: dict[tuple[int, str], tuple[datetime, dict[str, Any]]], result: FetchResult
) -> None:
    if not result.ok or not isinstance(result.response, dict):
        return
    for item in result.response.get("infoPhoneOnlines") or []:
        if isinstance(item, dict) and isinstance(item.get("e164"), str):
            key = (result.instance_id, item["e164"])
            if key not in details or details[key][0] <= result.fetched_at:
                details[key] = (result.fetched_at, item)


async def _check_details(
    conn: asyncpg.Connection, details: dict[tuple[int, str], tuple[datetime, dict[str, Any]]]
) -> list[str]:
    if not details:
        return []
    rows = {
        (r["vos_instance_id"], r["e164"]): r
        for r in await conn.fetch(
            "SELECT vos_instance_id, e164, remote_ip, product_id, detail_synced_at FROM phones"
        )
    }
    problems = []
    for key, (at, item) in sorted(details.items()):
        row = rows.get(key)
        if row is None:
            problems.append(f"{key}: details fetched at {at}, no phones row")
        elif (row["remote_ip"], row["product_id"]) != (item.get("remoteIp"), item.get("productId")):
            problems.append(f"{key}: the row's details are not the newest reply's (fetched at {at})")
        elif row["detail_synced_at"] is None or row["detail_synced_at"] > at:
            problems.append(
                f"{key}: detail_synced_at {row['detail_synced_at']} is after the newest reply {at}"
            )
    return problems


def _check_row(key: tuple[int, str, str], fold: _KeyFold, row: Any, catalogue: Catalogue) -> list[str]:
    newest, newest_ok = fold.newest, fold.newest_ok
    assert newest is not None
    where = f"{key[0]}:{key[1].rsplit('/', 1)[-1]}:{key[2][:8]}"
    if row is None:
        return [f"{where}: {fold.count} result(s), no cache row"]
    problems = []
    if row["last_attempt_at"] != newest.fetched_at:
        problems.append(
            f"{where}: last_attempt_at {row['last_attempt_at']} is not the newest result's"
            f" {newest.fetched_at}"
        )
    if newest_ok is None:
        return problems
    if row["synced_at"] != newest_ok.fetched_at:
        problems.append(
            f"{where}: synced_at {row['synced_at']} is not the newest success's {newest_ok.fetched_at}"
        )
    else:
        if _json(row["response_data"]) != _stored_response(newest_ok, catalogue):
            problems.append(f"{where}: response_data is not the newest successful reply")
        if not row["is_valid"]:
            problems.append(f"{where}: a stored success is not marked valid")
    if not newest.ok:
        if row["error_kind"] != (newest.error_kind.value if newest.error_kind else None):
            problems.append(f"{where}: error_kind {row['error_kind']} is not the newest failure's")
        if row["last_error_at"] != newest.fetched_at:
            problems.append(f"{where}: last_error_at {row['last_error_at']} is not {newest.fetched_at}")
    return problems


# -- 2. the gateways table equals the simulator ------------------------------------------------------

GatewayStates = dict[tuple[str, str], bool]  # (type, name) → online


async def sim_truth(client: httpx.AsyncClient, sim_url: str) -> GatewayStates:
    truth = (await client.get(f"{sim_url}/_sim/gateways")).json()
    return {(kind, g["name"]): bool(g["online"]) for kind in ("mapping", "routing") for g in truth[kind]}


async def table_states(conn: asyncpg.Connection, instance_id: int) -> GatewayStates:
    rows = await conn.fetch(
        "SELECT gateway_type, gateway_name, is_online FROM gateways WHERE vos_instance_id = $1", instance_id
    )
    return {(r["gateway_type"], r["gateway_name"]): r["is_online"] for r in rows}


def gateway_diff(expected: GatewayStates, seen: GatewayStates) -> list[str]:
    missing = sorted(set(expected) - set(seen))
    extra = sorted(set(seen) - set(expected))
    wrong = sorted(k for k in set(expected) & set(seen) if expected[k] != seen[k])
    out = [f"missing {k}" for k in missing[:5]] + [f"extra {k}" for k in extra[:5]]
    out += [f"{k}: table online={seen[k]}, VOS online={expected[k]}" for k in wrong[:5]]
    if out:
        out.insert(0, f"{len(missing)} missing, {len(extra)} extra, {len(wrong)} with the wrong online flag")
    return out


async def wait_gateways_match(
    conn: asyncpg.Connection, instances: dict[int, str], timeout_s: float = 30
) -> None:
    """Invariant 2: for every (instance id → simulator URL), the table equals the truth (polled)."""
    last: dict[int, list[str]] = {}
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=10) as client:
        while True:
            last = {}
            for instance_id, url in instances.items():
                diff = gateway_diff(await sim_truth(client, url), await table_states(conn, instance_id))
                if diff:
                    last[instance_id] = diff
            if not last:
                return
            if time.monotonic() > deadline:
                problems = [f"instance {i}: {line}" for i, lines in last.items() for line in lines]
                _fail(f"gateways table differs from the simulator after {timeout_s:.0f} s", problems)
            await asyncio.sleep(0.3)


# -- 3. one event per transition ---------------------------------------------------------------------


@dataclass
class EventsReport:
    events: int
    gateways: int


async def check_events_exactly_once(
    js: JetStreamContext, conn: asyncpg.Connection, settle_timeout_s: float = 30
) -> EventsReport:
    """Invariant 3. Call when the writer has settled (no results coming)."""
    await poll_until(lambda: outbox_published(conn), settle_timeout_s, "the outbox to be published")
    messages = await read_stream(js, bus.EVENTS_STREAM)
    outbox = {
        r["id"]: r
        for r in await conn.fetch(
            "SELECT id, entity, vos_instance_id, gateway_type, gateway_name, is_online, changed_at"
            " FROM gateway_event_outbox"
        )
    }
    problems: list[str] = []
    ids: Counter[int] = Counter()
    msg_ids: Counter[str] = Counter()
    transitions: Counter[tuple[int, str, str, datetime]] = Counter()
    history: dict[tuple[int, str, str], list[GatewayOnlineEvent | PhoneOnlineEvent]] = defaultdict(list)
    for msg in messages:
        # Phones share the outbox and the stream (issue 22): keyed (instance, "phone", e164).
        event: GatewayOnlineEvent | PhoneOnlineEvent
        if msg.subject.startswith("phone.online."):
            event = decode(PhoneOnlineEvent, msg.data, msg.headers)
            gateway, entity = (event.instance_id, "phone", event.e164), "phone"
        else:
            event = decode(GatewayOnlineEvent, msg.data, msg.headers)
            gateway, entity = (event.instance_id, event.gateway_type.value, event.gateway_name), "gateway"
        if event.event_id is None:
            problems.append(f"event at seq {msg.seq} has no event_id")
            continue
        ids[event.event_id] += 1
        msg_ids[msg.headers.get("Nats-Msg-Id", "")] += 1
        transitions[(*gateway, event.changed_at)] += 1
        history[gateway].append(event)
        row = outbox.get(event.event_id)
        if row is None:
            problems.append(f"event {event.event_id} has no outbox row")
            continue
        row_type = "phone" if row["entity"] == "phone" else row["gateway_type"]
        row_key = (row["entity"], row["vos_instance_id"], row_type, row["gateway_name"], row["is_online"])
        if row_key != (entity, *gateway, event.is_online):
            problems.append(f"event {event.event_id} differs from its outbox row")
    problems += [f"event_id {i} published {n} times" for i, n in ids.items() if n > 1]
    problems += [f"Nats-Msg-Id {i!r} published {n} times" for i, n in msg_ids.items() if n > 1]
    problems += [f"transition {t} has {n} events" for t, n in transitions.items() if n > 1]
    if len(messages) != len(outbox):
        problems.append(f"{len(messages)} events on the stream for {len(outbox)} outbox rows")
    problems += [f"outbox row {i} never published" for i in sorted(set(outbox) - set(ids))[:5]]
    table = {
        (r["vos_instance_id"], r["gateway_type"], r["gateway_name"]): r["is_online"]
        for r in await conn.fetch(
            "SELECT vos_instance_id, gateway_type, gateway_name, is_online FROM gateways"
            " UNION ALL SELECT vos_instance_id, 'phone', e164, is_online FROM phones"
        )
    }
    for gateway, events in history.items():
        problems += _check_alternation(gateway, sorted(events, key=lambda e: e.event_id or 0), table)
    for gateway, online in table.items():
        if online and gateway not in history:
            problems.append(f"{gateway} is online without an event saying so")
    _fail("events are not exactly one per transition", problems)
    return EventsReport(len(messages), len(history))


def _check_alternation(
    gateway: tuple[int, str, str],
    events: list[GatewayOnlineEvent | PhoneOnlineEvent],
    table: dict[tuple[int, str, str], bool],
) -> list[str]:
    state: bool | None = None
    problems = []
    for event in events:
        if state is None:
            if not event.is_online or event.previous not in (None, False):
                problems.append(
                    f"{gateway}: first event is_online={event.is_online} previous={event.previous}"
                )
        elif event.is_online == state or event.previous not in ({state, None} if state is False else {state}):
            # previous=None after an offline event: the row was deleted meanwhile and seen anew
            problems.append(
                f"{gateway}: event {event.event_id} repeats state {event.is_online}"
                f" (previous={event.previous})"
            )
        state = event.is_online
    if gateway in table and table[gateway] != state:
        problems.append(f"{gateway}: last event says online={state}, the table says {table[gateway]}")
    return problems


# -- 4. the api answered ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApiRecord:
    route: str
    started: float  # time.monotonic()
    elapsed_s: float
    status: int | None  # None: no HTTP answer (see error)
    error: str | None = None  # transport error / timeout / not JSON
    data_source: str | None = None


@dataclass
class ApiReport:
    requests: int
    statuses: Counter[int | None]
    sources: Counter[str]
    down_errors: int
    p50_ms: float
    p99_ms: float


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def check_api_answers(
    records: Iterable[ApiRecord],
    *,
    down: Sequence[tuple[float, float]] = (),
    allowed: frozenset[int] = DOCUMENTED_ERRORS,
    max_elapsed_s: float,
) -> ApiReport:
    """Invariant 4. `down`: (from, to) monotonic windows in which the api process was not running; a
    request overlapping one may fail to connect. Every other request must have an answer within
    `max_elapsed_s`: 200 or a documented error, with a JSON body (the records say if it was not)."""
    records = list(records)
    problems: list[str] = []
    down_errors = 0
    for rec in records:
        overlaps_down = any(
            rec.started <= end and rec.started + rec.elapsed_s >= start for start, end in down
        )
        if rec.status is None:
            if overlaps_down:
                down_errors += 1
            else:
                problems.append(f"{rec.route}: no answer after {rec.elapsed_s:.2f} s ({rec.error})")
            continue
        if rec.status != 200 and rec.status not in allowed:
            problems.append(f"{rec.route}: status {rec.status} ({rec.error})")
        elif rec.error:
            problems.append(f"{rec.route}: status {rec.status} but {rec.error}")
        if rec.elapsed_s > max_elapsed_s:
            problems.append(f"{rec.route}: answered after {rec.elapsed_s:.2f} s (limit {max_elapsed_s} s)")
    _fail("the api did not answer every request with data or a documented error", problems)
    answered = [r.elapsed_s * 1000 for r in records if r.status is not None]
    return ApiReport(
        requests=len(records),
        statuses=Counter(r.status for r in records),
        sources=Counter(r.data_source for r in records if r.data_source),
        down_errors=down_errors,
        p50_ms=percentile(answered, 0.5),
        p99_ms=percentile(answered, 0.99),
    )
