"""What the snapshots of one batch do to the gateway rows of a scope (instance, type): pure decisions.

The writer holds the scope's lock, reads its rows, then replays the batch's snapshots in fetched_at
order over them here, so the decisions are exact and each row is written once per batch, however
many snapshots touched it.

Rules
- Config snapshot: every listed gateway is in config (in_config = true, config columns from it). A
  row missing from it is deleted, unless it is online: then it stays with in_config = false
  ("online but absent from config"). Config never changes is_online, so it never makes an event.
- Online snapshot (listed = online): a listed gateway is online (created with in_config = false if
  unknown). A row not listed is offline; a row that is neither configured nor online is deleted.
- Events, one per transition: online → offline and offline → online of a row whose status was
  known. A gateway's first observed status is an event only when it is online (previous = None): a
  gateway first seen offline, or only in config, has not changed state.
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


@dataclass(frozen=True, slots=True)
class StoredList:
    """A reply's list as stored in cache row `cache_id`: a row's raw item is read from it by position."""

    cache_id: int
    list_key: str


@dataclass(frozen=True, slots=True)
class ConfigSource:
    """Where a config row's raw item is: position `ordinal` of `list_key` in cache row `cache_id`."""

    cache_id: int
    list_key: str
    api_name: str
    at: datetime


@dataclass(slots=True)
class RowPlan:
    """A row as the batch leaves it, and which of its parts the batch sets."""

    name: str
    id: int | None  # None: a new row
    in_config: bool
    is_online: bool
    status_known: bool
    config: ConfigRow | None = None  # set from this batch's config snapshot
    config_source: ConfigSource | None = None
    online: OnlineRow | None = None  # the latest online item, while online
    online_list: StoredList | None = None  # where `online`'s raw item is stored, if it still is
    online_at: datetime | None = None  # the last online snapshot that said something about it
    online_api: str | None = None
    changed_at: datetime | None = None  # the last transition in this batch
    went_offline: bool = False
    dirty: bool = False  # the batch sets something on it (the SQL still skips unchanged values)

    @classmethod
    def from_state(cls, state: GatewayState) -> RowPlan:
        return cls(state.name, state.id, state.in_config, state.is_online, state.status_known)


@dataclass(slots=True)
class ScopePlan:
    """Replays snapshots over the rows of one scope; `rows`, `delete_ids` and `transitions` result."""

    scope: Scope
    rows: dict[str, RowPlan]
    delete_ids: list[int] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)

    @classmethod
    def of(cls, scope: Scope, current: dict[str, GatewayState]) -> ScopePlan:
        return cls(scope, {name: RowPlan.from_state(state) for name, state in current.items()})

    def apply_config(self, rows: list[ConfigRow], source: ConfigSource) -> None:
        listed = {row.name: row for row in rows}
        for name in sorted(self.rows.keys() - listed.keys()):
            row = self.rows[name]
            if not row.is_online:
                self._delete(name)
            elif row.in_config:
                row.in_config, row.dirty = False, True
                row.config, row.config_source = None, None
        for name, config in listed.items():
            row = self.rows.get(name) or self._new(name)
            row.in_config, row.dirty = True, True
            row.config, row.config_source = config, source

    def apply_online(
        self, rows: list[OnlineRow], at: datetime, api_name: str, stored: StoredList | None = None
    ) -> None:
        """`stored`: where this snapshot's list is stored, when the cache row holds this reply."""
        listed = {row.name: row for row in rows}
        for name, online in listed.items():
            row = self.rows.get(name) or self._new(name)
            if not row.is_online:
                previous = False if row.status_known else None
                self.transitions.append(
                    Transition(
                        self.scope, name, True, previous, at, online.asr, online.acd, online.concurrent_calls
                    )
                )
                row.is_online, row.changed_at, row.went_offline = True, at, False
            row.status_known, row.dirty = True, True
            row.online, row.online_list, row.online_at, row.online_api = online, stored, at, api_name
        for name in sorted(self.rows.keys() - listed.keys()):
            row = self.rows[name]
            if row.is_online:
                self.transitions.append(Transition(self.scope, name, False, True, at, concurrent_calls=0))
                row.is_online, row.changed_at, row.went_offline, row.online = False, at, True, None
                row.online_list = None
                row.online_at, row.online_api, row.dirty = at, api_name, True
            elif not row.status_known:
                row.status_known, row.online_at, row.online_api, row.dirty = True, at, api_name, True
            if not row.in_config:
                self._delete(name)

    def _new(self, name: str) -> RowPlan:
        row = RowPlan(name, None, in_config=False, is_online=False, status_known=False, dirty=True)
        self.rows[name] = row
        return row

    def _delete(self, name: str) -> None:
        row = self.rows.pop(name)
        if row.id is not None:
            self.delete_ids.append(row.id)

    def written(self) -> list[RowPlan]:
        """Rows the batch sets something on, by name."""
        return [row for _, row in sorted(self.rows.items()) if row.dirty]
