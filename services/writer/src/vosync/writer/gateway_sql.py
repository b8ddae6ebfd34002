"""Set-based SQL for `gateway_rows` (`gateways` is a view of it, migration 0006): per batch, one
DELETE, one COPY, one UPDATE and one INSERT.

The batch's rows go to PostgreSQL by a binary COPY into a temporary staging table (created by the
first transaction of a session that needs it, emptied at every commit) that the UPDATE and the
INSERT read: for 10,000 rows of ~30 columns, asyncpg's encoding of one array per column cost
~0.3 s per statement, the COPY ~0.1 s.
Every row the batch changes is written once, whatever number of snapshots touched it. Rows take
their raw config and online items straight from the replies just stored in vos_data_cache (by
position in their lists), so a 10,000-gateway reply is parsed by PostgreSQL once, not twice, and
the writer never turns 10,000 items back into JSON (an online item is sent as JSON only when the
cache row holds a newer reply than the one it came from). `raw_data` is a generated column
(config item || online item || {"_data_sources": {"config": item, "online": item}}); the writer sets
`data_sources` (which API each item came from, and when). The
UPDATE skips rows whose values do not change, so an unchanged gateway is not rewritten, and an
online-only change leaves the (out-of-line) config item where it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from vosync.shared.catalogue import Catalogue, GatewayType, Projection
from vosync.writer.gateway_plan import GatewayState, RowPlan, Scope

_TYPES = {kind.value: kind for kind in GatewayType}  # a dict lookup: Enum(value) is slow per row

READ_STATE = """
    SELECT g.id, g.vos_instance_id, g.gateway_type, g.gateway_name, g.is_online, g.in_config,
           g.online_synced_at IS NOT NULL AS status_known
    FROM gateway_rows g
    JOIN unnest($1::int[], $2::text[]) AS s(instance_id, gateway_type)
      ON g.vos_instance_id = s.instance_id AND g.gateway_type = s.gateway_type
"""

DELETE = "DELETE FROM gateway_rows WHERE id = ANY($1::bigint[])"

# The raw items of the cache rows named by ids and list keys, with their position: config items
# ($1, $2) and online items ($3, $4). Two CTEs, each read once, so that PostgreSQL inlines them
# rather than materialising megabytes of items.
_ITEMS = """
    items AS (
        SELECT s.cache_id, e.ord::int AS ord, e.item
        FROM unnest($1::bigint[], $2::text[]) AS s(cache_id, list_key)
        JOIN vos_data_cache c ON c.id = s.cache_id
        CROSS JOIN LATERAL jsonb_array_elements(c.response_data -> s.list_key) WITH ORDINALITY AS e(item, ord)
    ),
    online_items AS (
        SELECT s.cache_id, e.ord::int AS ord, e.item
        FROM unnest($3::bigint[], $4::text[]) AS s(cache_id, list_key)
        JOIN vos_data_cache c ON c.id = s.cache_id
        CROSS JOIN LATERAL jsonb_array_elements(c.response_data -> s.list_key) WITH ORDINALITY AS e(item, ord)
    )"""


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


# The staging table's columns, in the order of stage_record's tuple.
STAGE_COLUMNS: list[tuple[str, str]] = [
    ("id", "bigint"),  # null: a new row
    ("instance_id", "int"),
    ("gateway_type", "text"),
    ("name", "text"),
    ("set_config", "bool"),  # config columns and the config item (cache_id, ord) come from this batch
    ("cache_id", "bigint"),
    ("ord", "int"),
    ("config_at", "timestamptz"),
    ("port", "int"),
    ("protocol", "text"),
    ("prefix", "text"),
    ("register_type", "int"),
    ("lock_type", "int"),
    ("in_config", "bool"),
    ("set_addr", "bool"),  # configured address and capacity from this batch (capacity: or online's)
    ("ip_address", "text"),  # the configured address (null: none, e.g. a dynamic gateway)
    ("remote_ips", "text"),  # CSV
    ("capacity", "int"),
    ("is_online", "bool"),
    ("set_online", "bool"),  # the latest online values while online, cleared when it went offline
    ("concurrent_calls", "int"),
    ("asr", "float8"),
    ("acd", "float8"),
    ("online_ip", "text"),  # the address the online item reports (registered from), with set_online
    ("online_remote_ips", "text"),  # CSV
    ("set_online_data", "bool"),
    ("online_cache_id", "bigint"),  # the online item: read from this cache row at online_ord,
    ("online_ord", "int"),
    ("online_item", "jsonb"),  # or, when that row no longer holds its reply, sent as JSON
    ("changed_at", "timestamptz"),
    ("online_at", "timestamptz"),
    ("config_api", "text"),
    ("online_api", "text"),
]


def stage_record(scope: Scope, row: RowPlan, apis: ApiNames) -> tuple[Any, ...]:
    """One row of the staging table (STAGE_COLUMNS); one function, as it runs for every gateway."""
    config, online, kind = row.config, row.online, scope[1]
    if config is not None:
        source = row.config_source
        config_part: tuple[Any, ...] = (
            True,
            source.cache_id if source else None,
            config.ordinal,
            source.at if source else None,
            config.port,
            config.protocol,
            config.prefix,
            config.register_type,
            config.lock_type,
        )
        addr: tuple[Any, ...] = (True, config.ip_address, _csv(config.remote_ips), config.capacity)
    else:
        config_part = (False, None, None, None, None, None, None, None, None)
        if online is not None and not row.in_config:
            # No config: no configured address; the online one comes through online_ip below.
            addr = (True, None, None, online.capacity)
        else:
            addr = (False, None, None, None)
    if row.is_online and online is not None:
        online_cols: tuple[Any, ...] = (
            True,
            online.concurrent_calls,
            online.asr,
            online.acd,
            online.ip_address,
            _csv(online.remote_ips),
        )
    elif row.went_offline:
        online_cols = (True, 0, None, None, None, None)  # offline: no registered address any more
    else:
        online_cols = (False, None, None, None, None, None)
    return (
        row.id,
        scope[0],
        kind.value,
        row.name,
        *config_part,
        row.in_config,
        *addr,
        row.is_online,
        *online_cols,
        online is not None or not row.is_online,
        *_online_item(row),
        row.changed_at,
        row.online_at,
        apis.config.get(kind),
        apis.online.get(kind),
    )


def _online_item(row: RowPlan) -> tuple[int | None, int | None, str | None]:
    """(online_cache_id, online_ord, online_item): where the online item is, or the item itself."""
    online = row.online
    if not row.is_online or online is None:
        return None, None, None
    if row.online_list is not None:
        return row.online_list.cache_id, online.ordinal, None
    return None, None, online.item_json


STAGE_TABLE = "writer_gateway_rows"
STAGE_COLUMN_NAMES = [name for name, _ in STAGE_COLUMNS]
CREATE_STAGE = f"""
    CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE_TABLE}
        ({", ".join(f"{name} {kind}" for name, kind in STAGE_COLUMNS)})
    ON COMMIT DELETE ROWS
"""


# The address: the configured one when config has one, else the one the online item reports (a
# dynamic gateway, registerType 1, has `remoteIps: ""` in config and registers from anywhere);
# `ip_source` says which. Each side is this batch's value or, when the batch has none, the row's
# own value if it came from that side.
_CONFIG_IP = "CASE WHEN n.set_addr THEN n.ip_address WHEN {g}.ip_source = 'config' THEN {g}.ip_address END"
_ONLINE_IP = "CASE WHEN n.set_online THEN n.online_ip WHEN {g}.ip_source = 'online' THEN {g}.ip_address END"
_CONFIG_IPS = (
    "CASE WHEN n.set_addr THEN string_to_array(n.remote_ips, ',')"
    " WHEN {g}.ip_source = 'config' THEN {g}.remote_ips END"
)
_ONLINE_IPS = (
    "CASE WHEN n.set_online THEN string_to_array(n.online_remote_ips, ',')"
    " WHEN {g}.ip_source = 'online' THEN {g}.remote_ips END"
)

# The new value of each column, from the batch (n, i) or kept from the current row ({g}).
_NEW: dict[str, str] = {
    "in_config": "n.in_config",
    "ip_address": f"coalesce({_CONFIG_IP}, {_ONLINE_IP})",
    "remote_ips": f"CASE WHEN ({_CONFIG_IP}) IS NOT NULL THEN {_CONFIG_IPS} ELSE {_ONLINE_IPS} END",
    "ip_source": (
        f"CASE WHEN ({_CONFIG_IP}) IS NOT NULL THEN 'config'"
        f" WHEN ({_ONLINE_IP}) IS NOT NULL THEN 'online' END"
    ),
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
    "online_data": (
        "CASE WHEN n.set_online_data THEN coalesce(oi.item, n.online_item) ELSE {g}.online_data END"
    ),
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
    UPDATE gateway_rows AS g SET
        {", ".join(f"{c} = {_new(c, 'g')}" for c in _SET)},
        data_sources = {_data_sources(lambda c: _new(c, "g"))},
        updated_at = now()
    FROM {STAGE_TABLE} n
    LEFT JOIN items i ON i.cache_id = n.cache_id AND i.ord = n.ord
    LEFT JOIN online_items oi ON oi.cache_id = n.online_cache_id AND oi.ord = n.online_ord
    WHERE n.id IS NOT NULL AND g.id = n.id AND {_changed("g")}
"""  # noqa: S608 (only constants of this module are interpolated; values are bind parameters)

# New rows: the same expressions over an empty "current row" (a LEFT JOIN that never matches). They
# go in in the order staged (by scope and name); the scope lock already keeps other writers out, and
# an SQL sort would copy every config item through a tuple sort.
INSERT = f"""
    WITH {_ITEMS.strip()}
    INSERT INTO gateway_rows (vos_instance_id, gateway_type, gateway_name, {", ".join(_SET)}, data_sources)
    SELECT n.instance_id, n.gateway_type, n.name, {", ".join(_new(c, "g0") for c in _SET)},
           {_data_sources(lambda c: _new(c, "g0"))}
    FROM {STAGE_TABLE} n
    LEFT JOIN gateway_rows g0 ON false
    LEFT JOIN items i ON i.cache_id = n.cache_id AND i.ord = n.ord
    LEFT JOIN online_items oi ON oi.cache_id = n.online_cache_id AND oi.ord = n.online_ord
    WHERE n.id IS NULL
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


def _config_list(row: RowPlan) -> tuple[int, str] | None:
    source = row.config_source if row.config is not None else None
    return (source.cache_id, source.list_key) if source is not None else None


def _online_list(row: RowPlan) -> tuple[int, str] | None:
    stored = row.online_list if row.is_online and row.online is not None else None
    return (stored.cache_id, stored.list_key) if stored is not None else None


def _lists(pairs: Iterable[tuple[int, str] | None]) -> tuple[list[int], list[str]]:
    found = sorted({pair for pair in pairs if pair is not None})
    return [cache_id for cache_id, _ in found], [key for _, key in found]


def sources_args(rows: Sequence[tuple[Scope, RowPlan]]) -> tuple[list[int], list[str], list[int], list[str]]:
    """$1–$4 of UPDATE and INSERT: the cache rows (ids, list keys) the config and online items come from."""
    return (*_lists(_config_list(row) for _, row in rows), *_lists(_online_list(row) for _, row in rows))


def stage_records(rows: Iterable[tuple[Scope, RowPlan]], apis: ApiNames) -> list[tuple[Any, ...]]:
    """The rows to COPY into the staging table."""
    return [stage_record(scope, row, apis) for scope, row in rows]
