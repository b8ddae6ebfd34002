"""One batch of results → one PostgreSQL transaction: cache rows, gateway projections, outbox events.

Order inside the transaction (every writer takes locks in the same order, so concurrent writers
wait for each other instead of deadlocking):
1. drop results of instances that no longer exist;
2. advisory locks of the gateway scopes (instance, type) the batch projects, sorted;
3. the existing cache rows of the batch's keys, locked FOR UPDATE in key order;
4. one upsert for all cache rows (results folded per key, older-than-row results ignored);
5. gateway projections of the replies whose content changed: each scope's snapshots replayed in
   fetched_at order over its rows (so a backlog loses no transition), then one DELETE, one COPY
   into the staging table, one UPDATE and one INSERT for all scopes (the replies were parsed in a
   worker thread while step 4 ran);
6. phones, fee rate groups and suites (phone_plan / phone_sql): each instance's GetAllPhoneOnline
   listings replayed over its phone rows, then one upsert of the rows that changed; GetPhoneOnline
   details in one upsert (the poller's scheduled detail batches are projected only, not cached:
   each batch is a different set of numbers, so a cache row per batch would only pile up); the
   newest changed group and suite lists upserted, the rows they no longer list deleted;
7. one COPY of the gateway transitions into gateway_event_outbox (ids taken ahead from its
   sequence), one of the phone transitions (ids from the column's default);
8. history, when on: one COPY of the gateway transitions (with those ids) into gateway_transitions,
   one statement sampling the online rows of the scopes polled in a new minute (gateway_samples),
   both in a savepoint: a row with no partition (a result older than the partitions kept) loses its
   history, never the projection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import asyncpg

from vosync.shared.catalogue import (
    DEFAULT_TTL_S,
    ApiSpec,
    Catalogue,
    GatewayType,
    Projection,
    UnknownApiError,
    WriteApiError,
)
from vosync.shared.messages import FetchReason, FetchResult, GatewayOnlineEvent, PhoneOnlineEvent
from vosync.writer import cache_rows, gateway_sql, history_sql, phone_rows, phone_sql, projection_plan
from vosync.writer.cache_rows import CacheFold, CacheState
from vosync.writer.gateway_plan import ConfigSource, GatewayState, Scope, ScopePlan, StoredList, Transition
from vosync.writer.gateway_rows import ConfigRow, OnlineRow, parse_config, parse_online
from vosync.writer.jsontext import pg_json
from vosync.writer.phone_plan import PhonePlan, PhoneTransition
from vosync.writer.projection_plan import Candidate, ParsedSnapshot, Step
from vosync.writer.results import CacheKey, is_full_snapshot, key_of, response_of, with_canonical_fields

log = logging.getLogger(__name__)

HISTORY_LOST_LOG_S = 60.0
_history_lost_logged_at = -HISTORY_LOST_LOG_S

SCOPE_LOCK_CLASS = 771_801  # + 0 mapping, + 1 routing; the second key is the instance id
PHONE_LOCK_CLASS = 771_803  # an instance's phone rows (listings and details)
_TYPE_INDEX = {"mapping": 0, "routing": 1}

KNOWN_INSTANCES = "SELECT id FROM vos_instances WHERE id = ANY($1::int[])"
LOCK_SCOPES = """
    SELECT count(pg_advisory_xact_lock(s.k1, s.k2))
    FROM (SELECT * FROM unnest($1::int[], $2::int[]) AS u(k1, k2) ORDER BY 1, 2 OFFSET 0) AS s
"""
# Transitions go in by binary COPY, in the order given (the relay publishes by id).
OUTBOX_TABLE = "gateway_event_outbox"
OUTBOX_COLUMNS = [
    "vos_instance_id",
    "gateway_type",
    "gateway_name",
    "is_online",
    "previous",
    "changed_at",
    "payload",
    "id",
]
PHONE_OUTBOX_COLUMNS = [*(c for c in OUTBOX_COLUMNS if c != "id"), "entity"]  # id: its default
PHONE_ENTITY = "phone"
_LISTED_PROJECTIONS = (Projection.PHONE_ONLINE, Projection.FEE_RATE_GROUPS, Projection.SUITES)


class Disposition:
    APPLIED = "applied"  # a success whose content is new
    UNCHANGED = "unchanged"  # a success with the same content: timestamps only
    FAILURE = "failure_recorded"
    STALE = "stale"  # older than the row: ignored
    SUPERSEDED = "superseded"  # a newer result of the same key in the same batch decided the row
    UNKNOWN_INSTANCE = "unknown_instance"


@dataclass(slots=True)
class BatchReport:
    outcomes: list[tuple[FetchResult, str]] = field(default_factory=list)
    changed_keys: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    synced_keys: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))  # timestamps only
    events: int = 0
    unknown_instances: Counter[int] = field(default_factory=Counter)
    problems: Counter[tuple[str, str]] = field(default_factory=Counter)  # (api, problem) → count
    history_lost: int = 0  # batches parts of whose history had no partition to go to


def _parse(kind: GatewayType, spec: ApiSpec, result: FetchResult) -> ParsedSnapshot:
    list_key = spec.list_key or ""
    if spec.projection is Projection.GATEWAY_CONFIG:
        return parse_config(response_of(result), list_key, kind)
    return parse_online(response_of(result), list_key, kind)


def _parse_quietly(candidates: list[Candidate]) -> dict[CacheKey, list[ParsedSnapshot | None]]:
    """Parsed ahead, in a worker thread: a reply that fails here (None) is parsed again in turn."""
    parsed: dict[CacheKey, list[ParsedSnapshot | None]] = {}
    for candidate in candidates:
        snapshots: list[ParsedSnapshot | None] = []
        for result in candidate.snapshots:
            try:
                snapshots.append(_parse(candidate.scope[1], candidate.spec, result))
            except Exception:  # the replay parses it again and reports the error there
                snapshots.append(None)
        parsed[candidate.key] = snapshots
    return parsed


def _projection(spec: ApiSpec | None) -> Projection:
    return spec.projection if spec is not None else Projection.NONE


def _ttl(spec: ApiSpec | None) -> float:
    return spec.ttl_s if spec is not None else DEFAULT_TTL_S


def _detail_batch(result: FetchResult, spec: ApiSpec | None) -> bool:
    """A scheduled GetPhoneOnline batch of the poller: projected, not cached."""
    return result.reason is FetchReason.SCHEDULE and _projection(spec) is Projection.PHONE_DETAIL


def _canonical(result: FetchResult, spec: ApiSpec | None) -> FetchResult:
    if spec is None or spec.gateway_type is None or not spec.list_key:
        return result
    return with_canonical_fields(result, spec.list_key)


class BatchApplier:
    def __init__(self, pool: asyncpg.Pool, catalogue: Catalogue, *, history: bool = False) -> None:
        self._pool = pool
        self._catalogue = catalogue
        self.history = history
        self.api_names = gateway_sql.ApiNames(catalogue)

    def spec(self, api_name: str) -> ApiSpec | None:
        try:
            return self._catalogue.spec(api_name)
        except (UnknownApiError, WriteApiError):
            return None

    async def apply(self, results: list[FetchResult]) -> BatchReport:
        async with self._pool.acquire() as conn, conn.transaction():
            return await _Transaction(self, conn).run(results)


class _Transaction:
    def __init__(self, applier: BatchApplier, conn: asyncpg.Connection) -> None:
        self._applier = applier
        self._conn = conn
        self.report = BatchReport()
        self._polled: dict[Scope, datetime] = {}  # scope → its newest accepted online success

    async def run(self, results: list[FetchResult]) -> BatchReport:
        known = await self._known(results)
        if not known:
            return self.report
        groups: dict[CacheKey, list[FetchResult]] = defaultdict(list)
        # A key is one API (its api_path holds the name): its first result's spec stands for it.
        specs: dict[CacheKey, ApiSpec | None] = {}
        detail_batches: list[FetchResult] = []
        for result in known:
            spec = self._applier.spec(result.api_name)  # once per result
            result = _canonical(result, spec)
            if _detail_batch(result, spec):
                detail_batches.append(result)
                continue
            key = key_of(result)
            groups[key].append(result)
            specs.setdefault(key, spec)
        keys = sorted(groups, key=CacheKey.sort_key)
        await self._lock_scopes(keys, groups, specs, detail_batches)
        old = dict(
            CacheState.from_record(r)
            for r in await self._conn.fetch(cache_rows.LOCK_EXISTING, *cache_rows.lock_args(keys))
        )
        folds = []
        for key in keys:
            folded = cache_rows.fold(key, groups[key], old.get(key), _ttl(specs[key]))
            if folded is None:
                self.report.outcomes.extend((r, Disposition.STALE) for r in groups[key])
            else:
                folds.append(folded)
        candidates = {
            f.key: c for f in folds if (c := projection_plan.candidate(f, specs[f.key])) is not None
        }
        new: dict[CacheKey, CacheState] = {}
        parsed: dict[CacheKey, list[ParsedSnapshot | None]] = {}
        if folds:
            ahead = [candidates[f.key] for f in folds if f.content_changed and f.key in candidates]
            new, parsed = await self._upsert(folds, ahead)
        steps: list[Step] = []
        for folded in folds:
            key = folded.key
            settled = (old.get(key), new.get(key), candidates.get(key), parsed.get(key, []))
            steps += self._settle(folded, groups[key], *settled)
        transitions = await self._project(steps)
        phone_transitions = await self._project_listed(folds, specs, old, new)
        details = [
            r
            for f in folds
            if _projection(specs[f.key]) is Projection.PHONE_DETAIL
            for r in f.accepted
            if r.ok
        ]
        await self._project_details(details + [r for r in detail_batches if r.ok])
        for result in detail_batches:
            self.report.outcomes.append((result, Disposition.APPLIED if result.ok else Disposition.FAILURE))
        event_ids = await self._write_outbox(transitions)
        await self._write_phone_outbox(phone_transitions)
        if self._applier.history:
            await self._write_history(transitions, event_ids)
        return self.report

    # -- phones, fee rate groups, suites ---------------------------------------------------------
    async def _project_listed(
        self,
        folds: list[CacheFold],
        specs: dict[CacheKey, ApiSpec | None],
        old: dict[CacheKey, CacheState],
        new: dict[CacheKey, CacheState],
    ) -> list[PhoneTransition]:
        """Listings (phones online), fee rate group and suite lists of full (unfiltered) replies."""
        transitions: list[PhoneTransition] = []
        for folded in folds:
            projection = _projection(specs[folded.key])
            stored = new.get(folded.key)
            if projection not in _LISTED_PROJECTIONS or stored is None or not is_full_snapshot(folded.last):
                continue
            successes = [r for r in folded.accepted if r.ok]
            if not successes:
                continue  # a failed reply changes nothing
            before = old.get(folded.key)
            if projection is Projection.PHONE_ONLINE:
                if len(successes) == 1 and before is not None and not folded.content_changed:
                    continue  # the same listing again: no phone changes
                previous_at = before.synced_at if before is not None else None
                transitions += await self._project_phones(folded.key.instance_id, successes, previous_at)
            elif folded.content_changed and stored.synced_at == successes[-1].fetched_at:
                await self._project_list(projection, folded.key.instance_id, successes[-1])
        return transitions

    async def _project_phones(
        self, instance_id: int, listings: list[FetchResult], previous_at: datetime | None
    ) -> list[PhoneTransition]:
        parsed = []
        for result in listings:
            listing = phone_rows.parse_listing(response_of(result))
            self._note_problems(instance_id, result, listing.problems)
            if listing.usable:
                parsed.append((result.fetched_at, listing.rows))
        if not parsed:
            return []
        every = sorted({n for _, numbers in parsed for n in numbers})
        records = await self._conn.fetch(phone_sql.READ_STATE, instance_id, every)
        plan = PhonePlan.of(instance_id, [phone_sql.state_from_record(r) for r in records])
        for at, numbers in parsed:
            plan.apply_listing(numbers, at, previous_at)
            previous_at = at
        written = plan.written()
        if written:
            await self._conn.execute(phone_sql.UPSERT_STATUS, *phone_sql.status_args(instance_id, written))
        return plan.transitions

    async def _project_details(self, results: list[FetchResult]) -> None:
        """The newest details of each number in the batch, in one upsert."""
        latest: dict[tuple[int, str], tuple[int, datetime, phone_rows.PhoneDetailRow]] = {}
        for result in sorted(results, key=lambda r: r.fetched_at):
            details = phone_rows.parse_details(response_of(result))
            self._note_problems(result.instance_id, result, details.problems)
            for row in details.rows:
                latest[(result.instance_id, row.e164)] = (result.instance_id, result.fetched_at, row)
        if latest:
            await self._conn.execute(phone_sql.UPSERT_DETAILS, *phone_sql.details_args(list(latest.values())))

    async def _project_list(self, projection: Projection, instance_id: int, result: FetchResult) -> None:
        """Fee rate groups or suites as the newest reply lists them; the others are removed."""
        response, at = response_of(result), result.fetched_at
        if projection is Projection.FEE_RATE_GROUPS:
            groups = phone_rows.parse_fee_rate_groups(response)
            self._note_problems(instance_id, result, groups.problems)
            if groups.usable:
                await self._conn.execute(
                    phone_sql.DELETE_FEE_RATE_GROUPS, instance_id, [g.name for g in groups.rows]
                )
                if groups.rows:
                    args = phone_sql.fee_rate_group_args(instance_id, groups.rows, at)
                    await self._conn.execute(phone_sql.UPSERT_FEE_RATE_GROUPS, *args)
            return
        suites = phone_rows.parse_suites(response)
        self._note_problems(instance_id, result, suites.problems)
        if suites.usable:
            await self._conn.execute(phone_sql.DELETE_SUITES, instance_id, [s.suite_id for s in suites.rows])
            if suites.rows:
                await self._conn.execute(
                    phone_sql.UPSERT_SUITES, *phone_sql.suite_args(instance_id, suites.rows, at)
                )

    def _note_problems(self, instance_id: int, result: FetchResult, problems: Counter[str]) -> None:
        for problem, count in problems.items():
            self.report.problems[(result.api_name, problem)] += count
        if problems:
            log.warning(
                "reply has problems",
                extra={
                    "instance_id": instance_id,
                    "api": result.api_name,
                    "fetched_at": result.fetched_at.isoformat(),
                    "problems": dict(problems),
                },
            )

    async def _write_phone_outbox(self, transitions: list[PhoneTransition]) -> None:
        if not transitions:
            return
        rows = [_phone_outbox_row(t) for t in transitions]
        await self._conn.copy_records_to_table(OUTBOX_TABLE, records=rows, columns=PHONE_OUTBOX_COLUMNS)
        self.report.events += len(rows)

    async def _upsert(
        self, folds: list[CacheFold], ahead: list[Candidate]
    ) -> tuple[dict[CacheKey, CacheState], dict[CacheKey, list[ParsedSnapshot | None]]]:
        """The cache upsert; meanwhile a worker thread parses the gateway replies it changes (`ahead`).

        PostgreSQL takes ~1 s to store a 26 MB reply as jsonb, during which this process would
        wait: the parsing (~0.3 s for 10,000 gateways) is done then instead of after it.
        """
        args = cache_rows.upsert_args(folds)
        upsert = asyncio.ensure_future(self._conn.fetch(cache_rows.UPSERT, *args))
        parsing: asyncio.Future[dict[CacheKey, list[ParsedSnapshot | None]]] | None = None
        parsed: dict[CacheKey, list[ParsedSnapshot | None]] = {}
        try:
            if ahead:
                await asyncio.sleep(0)  # the upsert's bytes leave before the thread takes the GIL
                parsing = asyncio.ensure_future(asyncio.to_thread(_parse_quietly, ahead))
            records = await upsert
        finally:
            upsert.cancel()  # only does something if this task was cancelled before awaiting it
            if parsing is not None:
                parsed = await parsing
        return dict(CacheState.from_record(r) for r in records), parsed

    async def _known(self, results: list[FetchResult]) -> list[FetchResult]:
        ids = sorted({r.instance_id for r in results})
        known = {r["id"] for r in await self._conn.fetch(KNOWN_INSTANCES, ids)}
        live = []
        for result in results:
            if result.instance_id in known:
                live.append(result)
            else:
                self.report.unknown_instances[result.instance_id] += 1
                self.report.outcomes.append((result, Disposition.UNKNOWN_INSTANCE))
        return live

    async def _lock_scopes(
        self,
        keys: list[CacheKey],
        groups: dict[CacheKey, list[FetchResult]],
        specs: dict[CacheKey, ApiSpec | None],
        detail_batches: list[FetchResult],
    ) -> None:
        locks = {(PHONE_LOCK_CLASS, r.instance_id) for r in detail_batches if r.ok}
        for key in keys:
            spec, group = specs[key], groups[key]
            if not any(r.ok for r in group):
                continue  # a failure projects nothing
            if _projection(spec) in (Projection.PHONE_ONLINE, Projection.PHONE_DETAIL):
                locks.add((PHONE_LOCK_CLASS, key.instance_id))
            gateway = projection_plan.gateway_spec(spec, group[0])
            if gateway is not None and gateway.gateway_type is not None:
                locks.add((SCOPE_LOCK_CLASS + _TYPE_INDEX[gateway.gateway_type.value], key.instance_id))
        if locks:
            ordered = sorted(locks)
            await self._conn.fetchval(LOCK_SCOPES, [k[0] for k in ordered], [k[1] for k in ordered])

    def _settle(
        self,
        folded: CacheFold,
        group: list[FetchResult],
        old: CacheState | None,
        new: CacheState | None,
        candidate: Candidate | None,
        parsed: list[ParsedSnapshot | None],
    ) -> list[Step]:
        """Outcomes and changed keys of one cache row; the projection steps it calls for."""
        if new is None:  # another writer stored a newer attempt in the meantime
            self.report.outcomes.extend((r, Disposition.STALE) for r in group)
            return []
        content_changed = old is None or new.content_hash != old.content_hash
        if old is None or new.visible() != old.visible():
            self.report.changed_keys[folded.key.instance_id].add(folded.key.cache_key)
        elif new.synced_at != old.synced_at:
            self.report.synced_keys[folded.key.instance_id].add(folded.key.cache_key)
        polled = projection_plan.polled_at(candidate)
        if candidate is not None and polled is not None:
            self._polled[candidate.scope] = max(polled, self._polled.get(candidate.scope, polled))
        accepted = {id(r) for r in folded.accepted}
        last = folded.last
        for result in group:
            if id(result) not in accepted:
                outcome = Disposition.STALE
            elif result is not last:
                outcome = Disposition.SUPERSEDED
            elif not result.ok:
                outcome = Disposition.FAILURE
            else:
                outcome = Disposition.APPLIED if content_changed else Disposition.UNCHANGED
            self.report.outcomes.append((result, outcome))
        if candidate is None:
            return []  # not a projected API, or a failed reply: it changes no gateway
        return projection_plan.steps(candidate, new, content_changed, parsed)

    async def _project(self, steps: list[Step]) -> list[Transition]:
        """Replay each scope's snapshots in fetched_at order, then write every changed row once."""
        if not steps:
            return []
        by_scope: dict[Scope, list[Step]] = defaultdict(list)
        for step in sorted(steps, key=lambda s: (s.scope[0], s.scope[1].value, s.at)):
            by_scope[step.scope].append(step)
        current: dict[Scope, dict[str, GatewayState]] = {scope: {} for scope in by_scope}
        for record in await self._conn.fetch(gateway_sql.READ_STATE, *gateway_sql.state_args(list(by_scope))):
            scope, state = gateway_sql.state_from_record(record)
            current[scope][state.name] = state
        plans = []
        for scope, scope_steps in by_scope.items():
            plan = ScopePlan.of(scope, current[scope])
            for step in scope_steps:
                self._replay(plan, step)
            plans.append(plan)
        await self._write(plans)
        return [t for plan in plans for t in plan.transitions]

    def _replay(self, plan: ScopePlan, step: Step) -> None:
        snapshot = step.parsed if step.parsed is not None else _parse(step.scope[1], step.spec, step.result)
        self._note(step, snapshot.problems)
        if snapshot.list_key is None:
            return
        if step.spec.projection is Projection.GATEWAY_CONFIG:
            source = ConfigSource(step.cache_id, snapshot.list_key, step.spec.name, step.at)
            plan.apply_config(cast(list[ConfigRow], snapshot.rows), source)
        else:
            stored = StoredList(step.cache_id, snapshot.list_key) if step.in_cache_row else None
            plan.apply_online(cast(list[OnlineRow], snapshot.rows), step.at, step.spec.name, stored)

    async def _write(self, plans: list[ScopePlan]) -> None:
        deletes = sorted(gid for plan in plans for gid in plan.delete_ids)
        updates = [(plan.scope, row) for plan in plans for row in plan.written() if row.id is not None]
        inserts = [(plan.scope, row) for plan in plans for row in plan.written() if row.id is None]
        if deletes:
            await self._conn.execute(gateway_sql.DELETE, deletes)
        if not updates and not inserts:
            return
        updates.sort(key=lambda item: item[1].id or 0)
        staged = updates + inserts
        # In the transaction, not once per connection: a pooler or DISCARD TEMP may hand this
        # transaction a server session that has not got the table (it costs a catalog lookup).
        await self._conn.execute(gateway_sql.CREATE_STAGE)
        await self._conn.copy_records_to_table(
            gateway_sql.STAGE_TABLE,
            records=gateway_sql.stage_records(staged, self._applier.api_names),
            columns=gateway_sql.STAGE_COLUMN_NAMES,
        )
        sources = gateway_sql.sources_args(staged)
        if updates:
            await self._conn.execute(gateway_sql.UPDATE, *sources)
        if inserts:
            await self._conn.execute(gateway_sql.INSERT, *sources)

    def _note(self, step: Step, problems: Counter[str]) -> None:
        for problem, count in problems.items():
            self.report.problems[(step.spec.name, problem)] += count
        if problems:
            log.warning(
                "gateway reply has problems",
                extra={
                    "instance_id": step.scope[0],
                    "api": step.spec.name,
                    "fetched_at": step.at.isoformat(),
                    "problems": dict(problems),
                },
            )

    async def _write_outbox(self, transitions: list[Transition]) -> list[int]:
        """The outbox rows, with ids taken ahead in order (the relay publishes by id)."""
        if not transitions:
            return []
        ids = sorted(r["id"] for r in await self._conn.fetch(history_sql.RESERVE_EVENT_IDS, len(transitions)))
        rows = [(*_outbox_row(t), event_id) for t, event_id in zip(transitions, ids, strict=True)]
        await self._conn.copy_records_to_table(OUTBOX_TABLE, records=rows, columns=OUTBOX_COLUMNS)
        self.report.events += len(rows)
        return ids

    async def _write_history(self, transitions: list[Transition], event_ids: list[int]) -> None:
        samples = history_sql.sample_args(self._polled)
        if not transitions and not samples[0]:
            return
        try:
            async with self._conn.transaction():  # a savepoint
                if transitions:
                    await self._conn.copy_records_to_table(
                        history_sql.TRANSITIONS_TABLE,
                        records=history_sql.transition_records(transitions, event_ids),
                        columns=history_sql.TRANSITION_COLUMNS,
                    )
                if samples[0]:
                    await self._conn.execute(history_sql.WRITE_SAMPLES, *samples)
        except asyncpg.CheckViolationError as exc:  # "no partition of relation … found for row"
            self.report.history_lost += 1
            global _history_lost_logged_at
            if time.monotonic() - _history_lost_logged_at >= HISTORY_LOST_LOG_S:  # a backlog: one line
                _history_lost_logged_at = time.monotonic()
                log.warning(
                    "history not written: no partition for it (results older than the partitions kept?)",
                    extra={"transitions": len(transitions), "scopes": len(samples[0]), "error": str(exc)},
                )


def _outbox_row(t: Transition) -> tuple[Any, ...]:
    """The event as GatewayOnlineEvent JSON without event_id (the relay adds the outbox id)."""
    event = GatewayOnlineEvent(
        instance_id=t.scope[0],
        gateway_type=t.scope[1],
        gateway_name=t.name,
        is_online=t.is_online,
        previous=t.previous,
        changed_at=t.changed_at,
        asr=t.asr,
        acd=t.acd,
        concurrent_calls=t.concurrent_calls,
    )
    payload = pg_json(event, exclude={"event_id"})
    return (t.scope[0], t.scope[1].value, t.name, t.is_online, t.previous, t.changed_at, payload)


def _phone_outbox_row(t: PhoneTransition) -> tuple[Any, ...]:
    """The event as PhoneOnlineEvent JSON without event_id; gateway_type '' and name = the e164.

    Only the fields the listing knows: no remote_ip, and concurrent_calls (0) only when offline.
    """
    event = PhoneOnlineEvent(
        instance_id=t.instance_id,
        e164=t.e164,
        is_online=t.is_online,
        previous=t.previous,
        changed_at=t.changed_at,
        concurrent_calls=None if t.is_online else 0,
    )
    unknown = {"event_id", "remote_ip"} | ({"concurrent_calls"} if t.is_online else set())
    payload = pg_json(event, exclude=unknown)
    return (t.instance_id, "", t.e164, t.is_online, t.previous, t.changed_at, payload, PHONE_ENTITY)
