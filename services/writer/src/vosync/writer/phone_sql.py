"""Set-based SQL for `phones`, `fee_rate_groups` and `suites`: one statement per table and step,
whatever the number of rows (arrays through unnest); rows go in in key order, the order their locks
are taken in, and an upsert that would not change a row does not rewrite it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from vosync.writer.phone_plan import PhoneRowPlan, PhoneState
from vosync.writer.phone_rows import FeeRateGroupRow, PhoneDetailRow, SuiteRow

# The rows a listing can change: the online ones and the listed ones (offline rows stay unread).
READ_STATE = """
    SELECT e164, is_online, online_synced_at IS NOT NULL AS status_known
    FROM phones
    WHERE vos_instance_id = $1 AND (is_online OR e164 = ANY($2::text[]))
"""

UPSERT_STATUS = """
    INSERT INTO phones AS p (vos_instance_id, e164, is_online, online_changed_at, online_synced_at,
                             last_seen_at, current_call)
    SELECT $1, n.e164, n.is_online, n.changed_at, n.changed_at, n.last_seen_at,
           CASE WHEN n.is_online THEN NULL ELSE 0 END
    FROM unnest($2::text[], $3::bool[], $4::timestamptz[], $5::timestamptz[])
         AS n(e164, is_online, changed_at, last_seen_at)
    ON CONFLICT (vos_instance_id, e164) DO UPDATE SET
        is_online = excluded.is_online,
        online_changed_at = excluded.online_changed_at,
        online_synced_at = excluded.online_synced_at,
        last_seen_at = coalesce(excluded.last_seen_at, p.last_seen_at),
        current_call = CASE WHEN excluded.is_online THEN p.current_call ELSE 0 END,
        updated_at = now()
"""

# Details of numbers not yet listed create offline rows of unknown status: the listing that has
# them turns them online, with the event. An older reply never overwrites a newer one, and a phone
# known to be offline has no calls, whatever a detail reply from before its drop said.
UPSERT_DETAILS = """
    INSERT INTO phones AS p (vos_instance_id, e164, remote_ip, local_ip, current_call, register_time,
                             update_time, protocol, crypto_type, product_id, detail_data,
                             detail_synced_at)
    SELECT n.instance_id, n.e164, n.remote_ip, n.local_ip, n.current_call, n.register_time,
           n.update_time, n.protocol, n.crypto_type, n.product_id, n.detail_data, n.at
    FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::int[], $6::timestamptz[],
                $7::timestamptz[], $8::int[], $9::int[], $10::text[], $11::jsonb[], $12::timestamptz[])
         AS n(instance_id, e164, remote_ip, local_ip, current_call, register_time, update_time,
              protocol, crypto_type, product_id, detail_data, at)
    ON CONFLICT (vos_instance_id, e164) DO UPDATE SET
        remote_ip = excluded.remote_ip,
        local_ip = excluded.local_ip,
        current_call = CASE WHEN p.is_online OR p.online_synced_at IS NULL THEN excluded.current_call
                       ELSE 0 END,
        register_time = excluded.register_time,
        update_time = excluded.update_time,
        protocol = excluded.protocol,
        crypto_type = excluded.crypto_type,
        product_id = excluded.product_id,
        detail_data = excluded.detail_data,
        detail_synced_at = excluded.detail_synced_at,
        updated_at = now()
    WHERE (p.detail_synced_at IS NULL OR p.detail_synced_at <= excluded.detail_synced_at)
      AND (p.remote_ip, p.local_ip, p.current_call, p.register_time, p.update_time, p.protocol,
           p.crypto_type, p.product_id, p.detail_data)
          IS DISTINCT FROM (excluded.remote_ip, excluded.local_ip, excluded.current_call,
                            excluded.register_time, excluded.update_time, excluded.protocol,
                            excluded.crypto_type, excluded.product_id, excluded.detail_data)
"""

UPSERT_FEE_RATE_GROUPS = """
    INSERT INTO fee_rate_groups AS f (vos_instance_id, name, memo, raw_data, synced_at)
    SELECT $1, n.name, n.memo, n.raw_data, $4
    FROM unnest($2::text[], $3::text[], $5::jsonb[]) AS n(name, memo, raw_data)
    ON CONFLICT (vos_instance_id, name) DO UPDATE SET
        memo = excluded.memo, raw_data = excluded.raw_data, synced_at = excluded.synced_at,
        updated_at = now()
"""
DELETE_FEE_RATE_GROUPS = (
    "DELETE FROM fee_rate_groups WHERE vos_instance_id = $1 AND NOT (name = ANY($2::text[]))"
)

UPSERT_SUITES = """
    INSERT INTO suites AS s (vos_instance_id, suite_id, name, rent_type, rent_period, rent_fee,
                             min_consumption, lower_consumption, gift_money, nonholonomic_order, memo,
                             raw_data, synced_at)
    SELECT $1, n.suite_id, n.name, n.rent_type, n.rent_period, n.rent_fee, n.min_consumption,
           n.lower_consumption, n.gift_money, n.nonholonomic_order, n.memo, n.raw_data, $13
    FROM unnest($2::int[], $3::text[], $4::int[], $5::int[], $6::float8[], $7::float8[], $8::float8[],
                $9::float8[], $10::bool[], $11::text[], $12::jsonb[])
         AS n(suite_id, name, rent_type, rent_period, rent_fee, min_consumption, lower_consumption,
              gift_money, nonholonomic_order, memo, raw_data)
    ON CONFLICT (vos_instance_id, suite_id) DO UPDATE SET
        name = excluded.name, rent_type = excluded.rent_type, rent_period = excluded.rent_period,
        rent_fee = excluded.rent_fee, min_consumption = excluded.min_consumption,
        lower_consumption = excluded.lower_consumption, gift_money = excluded.gift_money,
        nonholonomic_order = excluded.nonholonomic_order, memo = excluded.memo,
        raw_data = excluded.raw_data, synced_at = excluded.synced_at, updated_at = now()
"""
DELETE_SUITES = "DELETE FROM suites WHERE vos_instance_id = $1 AND NOT (suite_id = ANY($2::int[]))"


def state_from_record(record: Any) -> PhoneState:
    return PhoneState(record["e164"], record["is_online"], record["status_known"])


def status_args(instance_id: int, rows: Sequence[PhoneRowPlan]) -> tuple[Any, ...]:
    return (
        instance_id,
        [r.e164 for r in rows],
        [r.is_online for r in rows],
        [r.changed_at for r in rows],
        [r.last_seen_at for r in rows],
    )


def details_args(rows: Sequence[tuple[int, datetime, PhoneDetailRow]]) -> tuple[list[Any], ...]:
    """$1… of UPSERT_DETAILS from (instance, fetched_at, row), sorted by (instance, e164)."""
    ordered = sorted(rows, key=lambda r: (r[0], r[2].e164))
    return (
        [i for i, _, _ in ordered],
        [r.e164 for _, _, r in ordered],
        [r.remote_ip for _, _, r in ordered],
        [r.local_ip for _, _, r in ordered],
        [r.current_call for _, _, r in ordered],
        [r.register_time for _, _, r in ordered],
        [r.update_time for _, _, r in ordered],
        [r.protocol for _, _, r in ordered],
        [r.crypto_type for _, _, r in ordered],
        [r.product_id for _, _, r in ordered],
        [r.item_json for _, _, r in ordered],
        [at for _, at, _ in ordered],
    )


def fee_rate_group_args(instance_id: int, rows: Sequence[FeeRateGroupRow], at: datetime) -> tuple[Any, ...]:
    return (instance_id, [r.name for r in rows], [r.memo for r in rows], at, [r.item_json for r in rows])


def suite_args(instance_id: int, rows: Sequence[SuiteRow], at: datetime) -> tuple[Any, ...]:
    return (
        instance_id,
        [r.suite_id for r in rows],
        [r.name for r in rows],
        [r.rent_type for r in rows],
        [r.rent_period for r in rows],
        [r.rent_fee for r in rows],
        [r.min_consumption for r in rows],
        [r.lower_consumption for r in rows],
        [r.gift_money for r in rows],
        [r.nonholonomic_order for r in rows],
        [r.memo for r in rows],
        [r.item_json for r in rows],
        at,
    )
