"""Set-based SQL for the `gateways` table: one statement per kind of change for all scopes of a round.

Config rows take their raw item straight from the reply just stored in vos_data_cache (by position
in the list), so a 10,000-gateway reply is parsed by PostgreSQL once, not twice. Online rows carry
their (small) raw item. `raw_data` = config item || online item || {"_data_sources": …} is built in
SQL from the row's own columns, so each side rewrites it without re-sending the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from vosync.shared.catalogue import Catalogue, GatewayType, Projection
from vosync.writer.gateway_plan import GatewayState, Scope
from vosync.writer.gateway_rows import ConfigRow, OnlineRow


def _api_names(catalogue: Catalogue, projection: Projection) -> dict[GatewayType, str]:
    names = {}
    for name in catalogue.names():
        spec = catalogue.spec(name)
        if spec.projection is projection and spec.gateway_type is not None:
            names[spec.gateway_type] = spec.name
    return names


def _api_case(type_column: str, names: dict[GatewayType, str]) -> str:
    # The names are catalogue constants (`GetGatewayMapping`, …), never input: safe to inline.
    whens = " ".join(f"WHEN '{kind.value}' THEN '{api}'" for kind, api in sorted(names.items()))
    return f"(CASE {type_column} {whens} END)"


def _csv(ips: list[str] | None) -> str | None:
    return ",".join(ips) if ips else None


class GatewaySql:
    """The statements, with the catalogue's API names baked into the `_data_sources` parts."""

    def __init__(self, catalogue: Catalogue) -> None:
        config_api = _api_case("t.gateway_type", _api_names(catalogue, Projection.GATEWAY_CONFIG))
        online_api_t = _api_case("t.gateway_type", _api_names(catalogue, Projection.GATEWAY_ONLINE))
        config_api_g = _api_case("g.gateway_type", _api_names(catalogue, Projection.GATEWAY_CONFIG))

        self.read_state = """
            SELECT g.id, g.vos_instance_id, g.gateway_type, g.gateway_name, g.is_online, g.in_config,
                   g.online_synced_at IS NOT NULL AS status_known
            FROM gateways g
            JOIN unnest($1::int[], $2::text[]) AS s(instance_id, gateway_type)
              ON g.vos_instance_id = s.instance_id AND g.gateway_type = s.gateway_type
        """

        self.upsert_config = f"""
            WITH sources AS (
                SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[]) AS s(cache_id, list_key, api_name)
            ), items AS (
                SELECT s.cache_id, s.api_name, e.ord::int AS ord, e.item
                FROM sources s
                JOIN vos_data_cache c ON c.id = s.cache_id
                CROSS JOIN LATERAL jsonb_array_elements(c.response_data -> s.list_key)
                     WITH ORDINALITY AS e(item, ord)
            ), incoming AS (
                SELECT n.*, i.item, i.api_name
                FROM unnest($4::bigint[], $5::int[], $6::int[], $7::text[], $8::text[], $9::text[],
                            $10::text[], $11::int[], $12::text[], $13::text[], $14::int[], $15::int[],
                            $16::int[], $17::timestamptz[])
                     AS n(cache_id, ord, instance_id, gateway_type, name, ip_address, remote_ips, port,
                          protocol, prefix, capacity, register_type, lock_type, synced_at)
                JOIN items i ON i.cache_id = n.cache_id AND i.ord = n.ord
            )
            INSERT INTO gateways AS t (
                vos_instance_id, gateway_type, gateway_name, in_config, ip_address, port, protocol,
                remote_ips, prefix, capacity, register_type, lock_type, config_data, raw_data, synced_at)
            SELECT instance_id, gateway_type, name, true, ip_address, port, protocol,
                   string_to_array(remote_ips, ','), prefix, capacity, register_type, lock_type, item,
                   item || jsonb_build_object('_data_sources', jsonb_build_object(
                       'config', jsonb_build_object('api', api_name, 'synced_at', synced_at),
                       'online', NULL)),
                   synced_at
            FROM incoming
            ORDER BY instance_id, gateway_type, name
            ON CONFLICT (vos_instance_id, gateway_type, gateway_name) DO UPDATE SET
                in_config = true,
                ip_address = excluded.ip_address,
                port = excluded.port,
                protocol = excluded.protocol,
                remote_ips = excluded.remote_ips,
                prefix = excluded.prefix,
                capacity = excluded.capacity,
                register_type = excluded.register_type,
                lock_type = excluded.lock_type,
                config_data = excluded.config_data,
                raw_data = excluded.config_data || coalesce(t.online_data, '{{}}'::jsonb)
                    || jsonb_build_object('_data_sources', jsonb_build_object(
                        'config', excluded.raw_data -> '_data_sources' -> 'config',
                        'online', CASE WHEN t.online_synced_at IS NULL THEN NULL ELSE
                            jsonb_build_object('api', {online_api_t}, 'synced_at', t.online_synced_at) END)),
                synced_at = excluded.synced_at,
                updated_at = now()
            WHERE NOT t.in_config OR t.config_data IS DISTINCT FROM excluded.config_data
        """  # noqa: S608 (only catalogue constants are interpolated)

        self.upsert_online = f"""
            INSERT INTO gateways AS t (
                vos_instance_id, gateway_type, gateway_name, in_config, ip_address, remote_ips, capacity,
                is_online, concurrent_calls, asr, acd, online_changed_at, online_data, raw_data,
                online_synced_at)
            SELECT n.instance_id, n.gateway_type, n.name, false, n.ip_address,
                   string_to_array(n.remote_ips, ','), n.capacity, true, n.concurrent_calls, n.asr, n.acd,
                   n.fetched_at, n.item,
                   n.item || jsonb_build_object('_data_sources', jsonb_build_object(
                       'config', NULL,
                       'online', jsonb_build_object('api', n.api_name, 'synced_at', n.fetched_at))),
                   n.fetched_at
            FROM unnest($1::int[], $2::text[], $3::text[], $4::int[], $5::float8[], $6::float8[], $7::text[],
                        $8::text[], $9::int[], $10::jsonb[], $11::timestamptz[], $12::text[])
                 AS n(instance_id, gateway_type, name, concurrent_calls, asr, acd, ip_address, remote_ips,
                      capacity, item, fetched_at, api_name)
            ORDER BY n.instance_id, n.gateway_type, n.name
            ON CONFLICT (vos_instance_id, gateway_type, gateway_name) DO UPDATE SET
                is_online = true,
                concurrent_calls = excluded.concurrent_calls,
                asr = excluded.asr,
                acd = excluded.acd,
                online_changed_at = CASE WHEN t.is_online THEN t.online_changed_at
                                         ELSE excluded.online_changed_at END,
                online_data = excluded.online_data,
                online_synced_at = excluded.online_synced_at,
                ip_address = CASE WHEN t.in_config THEN t.ip_address ELSE excluded.ip_address END,
                remote_ips = CASE WHEN t.in_config THEN t.remote_ips ELSE excluded.remote_ips END,
                capacity = CASE WHEN t.in_config THEN t.capacity ELSE excluded.capacity END,
                raw_data = coalesce(t.config_data, '{{}}'::jsonb) || excluded.online_data
                    || jsonb_build_object('_data_sources', jsonb_build_object(
                        'config', CASE WHEN t.config_data IS NULL THEN NULL ELSE
                            jsonb_build_object('api', {config_api}, 'synced_at', t.synced_at) END,
                        'online', excluded.raw_data -> '_data_sources' -> 'online')),
                updated_at = now()
            WHERE NOT t.is_online OR t.online_data IS DISTINCT FROM excluded.online_data
        """  # noqa: S608

        # Not listed by an online snapshot: offline now (or, never seen online, its status is known).
        self.mark_offline = f"""
            UPDATE gateways AS g SET
                is_online = false,
                concurrent_calls = CASE WHEN g.is_online THEN 0 ELSE g.concurrent_calls END,
                asr = CASE WHEN g.is_online THEN NULL ELSE g.asr END,
                acd = CASE WHEN g.is_online THEN NULL ELSE g.acd END,
                online_changed_at = CASE WHEN g.is_online THEN p.fetched_at ELSE g.online_changed_at END,
                online_data = NULL,
                online_synced_at = p.fetched_at,
                raw_data = coalesce(g.config_data, '{{}}'::jsonb)
                    || jsonb_build_object('_data_sources', jsonb_build_object(
                        'config', CASE WHEN g.config_data IS NULL THEN NULL ELSE
                            jsonb_build_object('api', {config_api_g}, 'synced_at', g.synced_at) END,
                        'online', jsonb_build_object('api', p.api_name, 'synced_at', p.fetched_at))),
                updated_at = now()
            FROM unnest($1::bigint[], $2::timestamptz[], $3::text[]) AS p(id, fetched_at, api_name)
            WHERE g.id = p.id
        """  # noqa: S608

        self.unconfig = """
            UPDATE gateways SET in_config = false, updated_at = now() WHERE id = ANY($1::bigint[])
        """

        self.delete = "DELETE FROM gateways WHERE id = ANY($1::bigint[])"


def state_args(scopes: Sequence[Scope]) -> tuple[list[int], list[str]]:
    return [s[0] for s in scopes], [s[1].value for s in scopes]


def state_from_record(record: Any) -> tuple[Scope, GatewayState]:
    scope = (int(record["vos_instance_id"]), GatewayType(record["gateway_type"]))
    state = GatewayState(
        id=record["id"],
        name=record["gateway_name"],
        is_online=record["is_online"],
        in_config=record["in_config"],
        status_known=record["status_known"],
    )
    return scope, state


class ConfigBatch:
    """Config rows of several scopes, as column arrays for `upsert_config`."""

    def __init__(self) -> None:
        self.sources: list[tuple[int, str, str]] = []  # (cache_id, list_key, api_name)
        self.rows: list[tuple[int, Scope, ConfigRow, datetime]] = []

    def add(
        self, cache_id: int, list_key: str, api_name: str, scope: Scope, rows: list[ConfigRow], at: datetime
    ) -> None:
        self.sources.append((cache_id, list_key, api_name))
        self.rows.extend((cache_id, scope, row, at) for row in rows)

    def args(self) -> list[list[Any]]:
        columns: list[list[Any]] = [
            [s[0] for s in self.sources],
            [s[1] for s in self.sources],
            [s[2] for s in self.sources],
        ]
        columns += [list(col) for col in zip(*self._flat(), strict=True)] if self.rows else [[]] * 14
        return columns

    def _flat(self) -> list[tuple[Any, ...]]:
        return [
            (
                cache_id,
                r.ordinal,
                scope[0],
                scope[1].value,
                r.name,
                r.ip_address,
                _csv(r.remote_ips),
                r.port,
                r.protocol,
                r.prefix,
                r.capacity,
                r.register_type,
                r.lock_type,
                at,
            )
            for cache_id, scope, r, at in self.rows
        ]


class OnlineBatch:
    """Online rows of several scopes, as column arrays for `upsert_online`."""

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []

    def add(self, scope: Scope, rows: list[OnlineRow], at: datetime, api_name: str) -> None:
        self.rows.extend(
            (
                scope[0],
                scope[1].value,
                r.name,
                r.concurrent_calls,
                r.asr,
                r.acd,
                r.ip_address,
                _csv(r.remote_ips),
                r.capacity,
                r.item_json,
                at,
                api_name,
            )
            for r in rows
        )

    def args(self) -> list[list[Any]]:
        return [list(col) for col in zip(*self.rows, strict=True)]
