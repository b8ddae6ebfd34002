"""Set-based SQL for the `gateways` table: per batch, one DELETE, one UPDATE and one INSERT.

Every row the batch changes is written once, whatever number of snapshots touched it. Config rows
take their raw item straight from the reply just stored in vos_data_cache (by position in its list),
so a 10,000-gateway reply is parsed by PostgreSQL once, not twice. `raw_data` is a generated column
(config item || online item || {"_data_sources": data_sources}); the writer sets `data_sources`. The
UPDATE skips rows whose values do not change, so an unchanged gateway is not rewritten, and an
online-only change leaves the (out-of-line) config item where it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from vosync.shared.catalogue import Catalogue, GatewayType, Projection
from vosync.writer.gateway_plan import ConfigSource, GatewayState, RowPlan, Scope

_TYPES = {kind.value: kind for kind in GatewayType}  # a dict lookup: Enum(value) is slow per row

READ_STATE = """
    SELECT g.id, g.vos_instance_id, g.gateway_type, g.gateway_name, g.is_online, g.in_config,
           g.online_synced_at IS NOT NULL AS status_known
    FROM gateways g
    JOIN unnest($1::int[], $2::text[]) AS s(instance_id, gateway_type)
      ON g.vos_instance_id = s.instance_id AND g.gateway_type = s.gateway_type
"""

DELETE = "DELETE FROM gateways WHERE id = ANY($1::bigint[])"

# The raw config items of the cache rows named by $1 (ids) and $2 (list keys), with their position.
_ITEMS = """
    items AS (
        SELECT s.cache_id, e.ord::int AS ord, e.item
        FROM unnest($1::bigint[], $2::text[]) AS s(cache_id, list_key)
        JOIN vos_data_cache c ON c.id = s.cache_id
        CROSS JOIN LATERAL jsonb_array_elements(c.response_data -> s.list_key) WITH ORDINALITY AS e(item, ord)
    )"""

Column = tuple[str, str, Callable[[Scope, RowPlan, "ApiNames"], Any]]


class ApiNames:
    """The config and online API of each gateway type (for `_data_sources`), from the catalogue."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.config: dict[GatewayType, str] = {}
        self.online: dict[GatewayType, str] = {}
        for name in catalogue.names():
            spec = catalogue.spec(name)
            if spec.gateway_type is None:
                continue
            if spec.projection is Projection.GATEWAY_CONFIG:
                self.config[spec.gateway_type] = spec.name
            elif spec.projection is Projection.GATEWAY_ONLINE:
                self.online[spec.gateway_type] = spec.name


def _csv(ips: list[str] | None) -> str | None:
    return ",".join(ips) if ips else None


def _addr(row: RowPlan) -> tuple[bool, str | None, str | None, int | None]:
    """(set, ip, remote_ips csv, capacity): config's; an unconfigured online gateway's own; or keep."""
    if row.config is not None:
        return True, row.config.ip_address, _csv(row.config.remote_ips), row.config.capacity
    if row.online is not None and not row.in_config:
        return True, row.online.ip_address, _csv(row.online.remote_ips), row.online.capacity
    return False, None, None, None


def _online_cols(row: RowPlan) -> tuple[bool, int | None, float | None, float | None]:
    """(set, calls, asr, acd): the latest item while online; cleared when it went offline; or keep."""
    if row.is_online and row.online is not None:
        return True, row.online.concurrent_calls, row.online.asr, row.online.acd
    if row.went_offline:
        return True, 0, None, None
    return False, None, None, None


def _source(row: RowPlan) -> ConfigSource | None:
    return row.config_source if row.config is not None else None


_COMMON: list[Column] = [
    ("set_config", "bool", lambda s, r, a: r.config is not None),
    ("cache_id", "bigint", lambda s, r, a: src.cache_id if (src := _source(r)) else None),
    ("ord", "int", lambda s, r, a: r.config.ordinal if r.config else None),
    ("config_at", "timestamptz", lambda s, r, a: src.at if (src := _source(r)) else None),
    ("port", "int", lambda s, r, a: r.config.port if r.config else None),
    ("protocol", "text", lambda s, r, a: r.config.protocol if r.config else None),
    ("prefix", "text", lambda s, r, a: r.config.prefix if r.config else None),
    ("register_type", "int", lambda s, r, a: r.config.register_type if r.config else None),
    ("lock_type", "int", lambda s, r, a: r.config.lock_type if r.config else None),
    ("in_config", "bool", lambda s, r, a: r.in_config),
    ("set_addr", "bool", lambda s, r, a: _addr(r)[0]),
    ("ip_address", "text", lambda s, r, a: _addr(r)[1]),
    ("remote_ips", "text", lambda s, r, a: _addr(r)[2]),
    ("capacity", "int", lambda s, r, a: _addr(r)[3]),
    ("is_online", "bool", lambda s, r, a: r.is_online),
    ("set_online", "bool", lambda s, r, a: _online_cols(r)[0]),
    ("concurrent_calls", "int", lambda s, r, a: _online_cols(r)[1]),
    ("asr", "float8", lambda s, r, a: _online_cols(r)[2]),
    ("acd", "float8", lambda s, r, a: _online_cols(r)[3]),
    ("set_online_data", "bool", lambda s, r, a: r.online is not None or not r.is_online),
    ("online_item", "jsonb", lambda s, r, a: r.online.item_json if r.is_online and r.online else None),
    ("changed_at", "timestamptz", lambda s, r, a: r.changed_at),
    ("online_at", "timestamptz", lambda s, r, a: r.online_at),
    ("config_api", "text", lambda s, r, a: a.config.get(s[1])),
    ("online_api", "text", lambda s, r, a: a.online.get(s[1])),
]
UPDATE_COLUMNS: list[Column] = [("id", "bigint", lambda s, r, a: r.id), *_COMMON]
INSERT_COLUMNS: list[Column] = [
    ("instance_id", "int", lambda s, r, a: s[0]),
    ("gateway_type", "text", lambda s, r, a: s[1].value),
    ("name", "text", lambda s, r, a: r.name),
    *_COMMON,
]


def _unnest(columns: Sequence[Column], first: int) -> str:
    params = ", ".join(f"${first + i}::{kind}[]" for i, (_, kind, _) in enumerate(columns))
    names = ", ".join(name for name, _, _ in columns)
    return f"unnest({params}) AS n({names})"


# The new value of each column, from the batch (n, i) or kept from the current row ({g}).
_NEW: dict[str, str] = {
    "in_config": "n.in_config",
    "ip_address": "CASE WHEN n.set_addr THEN n.ip_address ELSE {g}.ip_address END",
    "remote_ips": "CASE WHEN n.set_addr THEN string_to_array(n.remote_ips, ',') ELSE {g}.remote_ips END",
    "capacity": "CASE WHEN n.set_addr THEN n.capacity ELSE {g}.capacity END",
    "port": "CASE WHEN n.set_config THEN n.port ELSE {g}.port END",
    "protocol": "CASE WHEN n.set_config THEN n.protocol ELSE {g}.protocol END",
    "prefix": "CASE WHEN n.set_config THEN n.prefix ELSE {g}.prefix END",
    "register_type": "CASE WHEN n.set_config THEN n.register_type ELSE {g}.register_type END",
    "lock_type": "CASE WHEN n.set_config THEN n.lock_type ELSE {g}.lock_type END",
    "is_online": "n.is_online",
    "concurrent_calls": "CASE WHEN n.set_online THEN n.concurrent_calls ELSE {g}.concurrent_calls END",
    "asr": "CASE WHEN n.set_online THEN n.asr ELSE {g}.asr END",
    "acd": "CASE WHEN n.set_online THEN n.acd ELSE {g}.acd END",
    "online_changed_at": "coalesce(n.changed_at, {g}.online_changed_at)",
    "config_data": "CASE WHEN n.set_config THEN i.item ELSE {g}.config_data END",
    "online_data": "CASE WHEN n.set_online_data THEN n.online_item ELSE {g}.online_data END",
    "synced_at": "CASE WHEN n.set_config THEN n.config_at ELSE {g}.synced_at END",
    "online_synced_at": "coalesce(n.online_at, {g}.online_synced_at)",
}
_SET = list(_NEW)
# Compared to decide whether a row changes: the scalars, whether the status is known, and the JSON
# items only when the batch sets them (comparing jsonb is not free). Timestamps alone do not count.
_SCALARS = [c for c in _NEW if c not in ("config_data", "online_data", "synced_at", "online_synced_at")]


def _new(column: str, g: str) -> str:
    return _NEW[column].format(g=g)


def _data_sources(new: Callable[[str], str]) -> str:
    """{"config": {api, synced_at} | null, "online": {api, synced_at} | null} from the new values."""
    config, synced, online_synced = new("config_data"), new("synced_at"), new("online_synced_at")
    return f"""jsonb_build_object(
            'config', CASE WHEN {config} IS NULL THEN NULL
                      ELSE jsonb_build_object('api', n.config_api, 'synced_at', {synced}) END,
            'online', CASE WHEN {online_synced} IS NULL THEN NULL
                      ELSE jsonb_build_object('api', n.online_api, 'synced_at', {online_synced}) END)"""


def _changed(g: str) -> str:
    scalars_new = ", ".join(_new(c, g) for c in _SCALARS)
    scalars_old = ", ".join(f"{g}.{c}" for c in _SCALARS)
    return f"""(({scalars_new}, {_new("online_synced_at", g)} IS NULL)
               IS DISTINCT FROM ({scalars_old}, {g}.online_synced_at IS NULL)
            OR (n.set_config AND {_new("config_data", g)} IS DISTINCT FROM {g}.config_data)
            OR (n.set_online_data AND {_new("online_data", g)} IS DISTINCT FROM {g}.online_data))"""


# Existing rows: every new value computed from the row itself; a row that would not change is not
# rewritten.
UPDATE = f"""
    WITH {_ITEMS.strip()}
    UPDATE gateways AS g SET
        {", ".join(f"{c} = {_new(c, 'g')}" for c in _SET)},
        data_sources = {_data_sources(lambda c: _new(c, "g"))},
        updated_at = now()
    FROM {_unnest(UPDATE_COLUMNS, 3)}
    LEFT JOIN items i ON i.cache_id = n.cache_id AND i.ord = n.ord
    WHERE g.id = n.id AND {_changed("g")}
"""  # noqa: S608 (only constants of this module are interpolated; values are bind parameters)

# New rows: the same expressions over an empty "current row" (a LEFT JOIN that never matches). They
# go in in the order given (by scope and name); the scope lock already keeps other writers out, and
# an SQL sort would copy every config item through a tuple sort.
INSERT = f"""
    WITH {_ITEMS.strip()}
    INSERT INTO gateways (vos_instance_id, gateway_type, gateway_name, {", ".join(_SET)}, data_sources)
    SELECT n.instance_id, n.gateway_type, n.name, {", ".join(_new(c, "g0") for c in _SET)},
           {_data_sources(lambda c: _new(c, "g0"))}
    FROM {_unnest(INSERT_COLUMNS, 3)}
    LEFT JOIN gateways g0 ON false
    LEFT JOIN items i ON i.cache_id = n.cache_id AND i.ord = n.ord
"""  # noqa: S608 (only constants of this module are interpolated; values are bind parameters)


def state_args(scopes: Sequence[Scope]) -> tuple[list[int], list[str]]:
    return [s[0] for s in scopes], [s[1].value for s in scopes]


def state_from_record(record: Any) -> tuple[Scope, GatewayState]:
    scope = (int(record["vos_instance_id"]), _TYPES[record["gateway_type"]])
    state = GatewayState(
        id=record["id"],
        name=record["gateway_name"],
        is_online=record["is_online"],
        in_config=record["in_config"],
        status_known=record["status_known"],
    )
    return scope, state


def row_args(
    rows: Iterable[tuple[Scope, RowPlan]], columns: Sequence[Column], apis: ApiNames
) -> list[list[Any]]:
    """$1, $2: the cache rows the config items come from; then one array per column."""
    listed = list(rows)
    sources = sorted({(src.cache_id, src.list_key) for _, row in listed if (src := _source(row)) is not None})
    args: list[list[Any]] = [[s[0] for s in sources], [s[1] for s in sources]]
    args += [[get(scope, row, apis) for scope, row in listed] for _, _, get in columns]
    return args
