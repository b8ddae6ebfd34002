"""What one gateway snapshot does to the rows of its scope (instance, type): pure decisions, no SQL.

The writer holds the scope's lock while it reads the current rows and applies the plan, so the
decisions here are exact.

Rules
- Config snapshot: every listed gateway is upserted with in_config = true. A row missing from it is
  deleted, unless it is online: then it stays with in_config = false ("online but absent from
  config"). Config never changes is_online, so it never produces an event.
- Online snapshot (listed = online): a listed gateway becomes online (inserted with in_config = false
  if unknown). A row not listed becomes offline; a row that is neither configured nor online any
  more is deleted.
- Events (one per transition): online → offline and offline → online of a row whose status was
  known. A gateway's first observed status is an event only when it is online (previous = None): a
  gateway first seen offline (or only in config) has not changed state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from vosync.shared.catalogue import GatewayType
from vosync.writer.gateway_rows import ConfigRow, OnlineRow

Scope = tuple[int, GatewayType]  # (vos_instance_id, gateway_type)


@dataclass(frozen=True, slots=True)
class GatewayState:
    id: int
    name: str
    is_online: bool
    in_config: bool
    status_known: bool  # an online snapshot has said something about this row (online_synced_at set)


@dataclass(frozen=True, slots=True)
class Transition:
    scope: Scope
    name: str
    is_online: bool
    previous: bool | None
    changed_at: datetime
    asr: float | None = None
    acd: float | None = None
    concurrent_calls: int | None = None


@dataclass(slots=True)
class ConfigPlan:
    upserts: list[ConfigRow]
    delete_ids: list[int] = field(default_factory=list)
    unconfig_ids: list[int] = field(default_factory=list)  # online rows absent from config


@dataclass(slots=True)
class OnlinePlan:
    upserts: list[OnlineRow]
    offline_ids: list[int] = field(default_factory=list)  # not listed: offline (or first seen offline)
    delete_ids: list[int] = field(default_factory=list)  # neither configured nor online
    transitions: list[Transition] = field(default_factory=list)


def plan_config(rows: list[ConfigRow], current: dict[str, GatewayState]) -> ConfigPlan:
    plan = ConfigPlan(upserts=rows)
    listed = {row.name for row in rows}
    for name in sorted(current.keys() - listed):
        state = current[name]
        if not state.is_online:
            plan.delete_ids.append(state.id)
        elif state.in_config:
            plan.unconfig_ids.append(state.id)
    return plan


def plan_online(
    scope: Scope, rows: list[OnlineRow], current: dict[str, GatewayState], fetched_at: datetime
) -> OnlinePlan:
    plan = OnlinePlan(upserts=rows)
    for row in rows:
        state = current.get(row.name)
        if state is not None and state.is_online:
            continue
        previous = False if state is not None and state.status_known else None
        plan.transitions.append(
            Transition(scope, row.name, True, previous, fetched_at, row.asr, row.acd, row.concurrent_calls)
        )
    listed = {row.name for row in rows}
    for name in sorted(current.keys() - listed):
        state = current[name]
        if state.is_online:
            plan.transitions.append(Transition(scope, name, False, True, fetched_at, concurrent_calls=0))
        if not state.in_config:
            plan.delete_ids.append(state.id)
        elif state.is_online or not state.status_known:
            plan.offline_ids.append(state.id)
    return plan
