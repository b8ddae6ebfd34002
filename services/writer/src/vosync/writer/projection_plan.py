"""Which snapshots of a batch's cache folds project into the gateway rows: pure decisions.

Decided in two halves around the cache upsert, each once. Before it, the candidates: the snapshots
of each fold that would project if its content changed (their replies are parsed in a worker thread
while PostgreSQL stores them). After it, which candidates go ahead given the row the upsert left,
as steps carrying that row's id and the snapshot parsed ahead, if any. A candidate is matched to its
parsed snapshots by its cache key (one fold per key), never by object identity.

Rules
- Projected: an unfiltered success of an API with a projection, a gateway type and a list key.
- Config is a state, not a stream of changes: only the newest success, and only when the content
  changed and that success is the reply now in the cache row (the items are read from there).
- Online: every success in fetched_at order (a backlog loses no transition), unless it is a single
  list with unchanged content (a redelivery, or nothing changed). Its items are read from the cache
  row only when that row holds its reply (its newest success; never an older one of a backlog).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from vosync.shared.catalogue import ApiSpec, Projection
from vosync.shared.messages import FetchResult
from vosync.writer.cache_rows import CacheFold, CacheState
from vosync.writer.gateway_plan import Scope
from vosync.writer.gateway_rows import ConfigRow, OnlineRow, Snapshot
from vosync.writer.results import CacheKey, is_full_snapshot

ParsedSnapshot = Snapshot[ConfigRow] | Snapshot[OnlineRow]


@dataclass(frozen=True, slots=True)
class Candidate:
    """The snapshots of one fold that project into `scope` if the fold's content changed."""

    key: CacheKey
    scope: Scope
    spec: ApiSpec
    snapshots: tuple[FetchResult, ...]  # fetched_at order; config: its newest success only


@dataclass(frozen=True, slots=True)
class Step:
    """One snapshot to project into its scope."""

    scope: Scope
    spec: ApiSpec
    result: FetchResult
    cache_id: int
    parsed: ParsedSnapshot | None = None  # parsed ahead; None: parse it in turn
    in_cache_row: bool = False  # the cache row holds this reply: its items can be read from there

    @property
    def at(self) -> datetime:
        return self.result.fetched_at


def gateway_spec(spec: ApiSpec | None, result: FetchResult) -> ApiSpec | None:
    """`spec` when `result` is a reply that projects into gateway rows."""
    if spec is None or spec.projection is Projection.NONE or spec.gateway_type is None:
        return None
    if not spec.list_key or not is_full_snapshot(result):
        return None
    return spec


def candidate(folded: CacheFold, spec: ApiSpec | None) -> Candidate | None:
    """None when the fold is not a projected reply or has no success (a failure changes no gateway)."""
    projected = gateway_spec(spec, folded.last)
    if projected is None or projected.gateway_type is None:
        return None
    successes = [r for r in folded.accepted if r.ok]
    if not successes:
        return None
    if projected.projection is Projection.GATEWAY_CONFIG:
        successes = successes[-1:]
    scope: Scope = (folded.key.instance_id, projected.gateway_type)
    return Candidate(folded.key, scope, projected, tuple(successes))


def goes_ahead(candidate: Candidate, stored: CacheState, content_changed: bool) -> bool:
    """Whether the candidate projects, given the row the upsert left and whether its content changed."""
    if candidate.spec.projection is Projection.GATEWAY_CONFIG:
        return content_changed and stored.synced_at == candidate.snapshots[0].fetched_at
    return content_changed or len(candidate.snapshots) > 1


def steps(
    candidate: Candidate,
    stored: CacheState,
    content_changed: bool,
    parsed: Sequence[ParsedSnapshot | None] = (),
) -> list[Step]:
    """The candidate's steps when it goes ahead (`parsed`: its snapshots parsed ahead, by position)."""
    if not goes_ahead(candidate, stored, content_changed):
        return []
    ahead = list(parsed) if len(parsed) == len(candidate.snapshots) else [None] * len(candidate.snapshots)
    return [
        Step(
            candidate.scope,
            candidate.spec,
            result,
            stored.id,
            snapshot,
            in_cache_row=result.fetched_at == stored.synced_at,
        )
        for result, snapshot in zip(candidate.snapshots, ahead, strict=True)
    ]


def polled_at(candidate: Candidate | None) -> datetime | None:
    """An online list stored (changed or not) is a poll to sample, at its newest success's time."""
    if candidate is None or candidate.spec.projection is not Projection.GATEWAY_ONLINE:
        return None
    return max(r.fetched_at for r in candidate.snapshots)
