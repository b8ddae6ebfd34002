"""Set-based SQL of the history tables: written in the batch transaction, kept by the maintenance."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from vosync.writer.gateway_plan import Scope, Transition
from vosync.writer.history_partitions import Partition

# Outbox ids taken ahead, so the transitions carry the event id the relay will publish under.
RESERVE_EVENT_IDS = """
    SELECT nextval(pg_get_serial_sequence('gateway_event_outbox', 'id')) AS id
    FROM generate_series(1, $1)
"""

TRANSITIONS_TABLE = "gateway_transitions"
TRANSITION_COLUMNS = [
    "instance_id",
    "gateway_type",
    "name",
    "is_online",
    "previous",
    "changed_at",
    "event_id",
]

# One statement per batch: mark (instance, type, minute) as sampled; only the scopes whose mark is
# new copy their online rows (already projected in this transaction) into the samples. A second poll
# in the same minute stops at its conflicting mark.
WRITE_SAMPLES = """
    WITH due AS (
        INSERT INTO gateway_sample_marks (instance_id, gateway_type, at)
        SELECT * FROM unnest($1::int[], $2::text[], $3::timestamptz[])
        ON CONFLICT DO NOTHING
        RETURNING instance_id, gateway_type, at
    )
    INSERT INTO gateway_samples (gateway_id, at, concurrent_calls, asr, acd)
    SELECT g.id, d.at, g.concurrent_calls, g.asr, g.acd
    FROM due d
    JOIN gateways g ON g.vos_instance_id = d.instance_id AND g.gateway_type = d.gateway_type
    WHERE g.is_online
    ON CONFLICT DO NOTHING
"""


def transition_records(transitions: list[Transition], event_ids: list[int]) -> list[tuple[Any, ...]]:
    return [
        (t.scope[0], t.scope[1].value, t.name, t.is_online, t.previous, t.changed_at, event_id)
        for t, event_id in zip(transitions, event_ids, strict=True)
    ]


def sample_args(polled: Mapping[Scope, datetime]) -> tuple[list[int], list[str], list[datetime]]:
    """$1..$3 of WRITE_SAMPLES: each polled scope at the minute of its newest poll, in scope order
    (the marks are locked in one order by every writer)."""
    scopes = sorted(polled, key=lambda s: (s[0], s[1].value))
    minutes = [polled[s].replace(second=0, microsecond=0) for s in scopes]
    return [s[0] for s in scopes], [s[1].value for s in scopes], minutes


# -- maintenance ---------------------------------------------------------------------------------

MAINTENANCE_LOCK = (771_802, 0)

PARTITIONS_OF = """
    SELECT c.relname
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    JOIN pg_class p ON p.oid = i.inhparent
    WHERE p.relname = $1
"""


def create_partition(p: Partition) -> str:
    # Names and bounds come from history_partitions (digits and fixed parents), never from input.
    return (
        f"CREATE TABLE IF NOT EXISTS {p.name} PARTITION OF {p.parent}"
        f" FOR VALUES FROM ('{p.start.isoformat()}') TO ('{p.end.isoformat()}')"
    )


def drop_partition(p: Partition) -> str:
    return f"DROP TABLE IF EXISTS {p.name}"


# Marks only stop a second sampling of the same minute; a day's worth is more than enough.
PRUNE_SAMPLE_MARKS = "DELETE FROM gateway_sample_marks WHERE at < $1"
PRUNE_ROLLUP_MARKS = "DELETE FROM gateway_rollup_marks WHERE at < $1"

# The completed hours in [$1, $2) that have no rollup yet, or had no samples when rolled up (a
# backlog may have brought some since; looking again at an empty hour costs a BRIN probe).
HOURS_TO_ROLL_UP = """
    SELECT h.at
    FROM generate_series($1::timestamptz, $2::timestamptz - interval '1 hour', interval '1 hour') AS h(at)
    WHERE NOT EXISTS (SELECT 1 FROM gateway_rollup_marks m WHERE m.at = h.at AND m.rows > 0)
    ORDER BY h.at
"""

# One hour of every gateway's samples → one rollup row per gateway; run again, it writes the same.
ROLL_UP_HOUR = """
    WITH r AS (
        INSERT INTO gateway_samples_hourly (
            gateway_id, at, samples,
            calls_min, calls_avg, calls_max, asr_min, asr_avg, asr_max, acd_min, acd_avg, acd_max)
        SELECT gateway_id, $1::timestamptz, count(*),
               min(concurrent_calls), avg(concurrent_calls), max(concurrent_calls),
               min(asr), avg(asr), max(asr), min(acd), avg(acd), max(acd)
        FROM gateway_samples
        WHERE at >= $1::timestamptz AND at < $1::timestamptz + interval '1 hour'
        GROUP BY gateway_id
        ON CONFLICT (gateway_id, at) DO UPDATE SET
            samples = excluded.samples,
            calls_min = excluded.calls_min, calls_avg = excluded.calls_avg, calls_max = excluded.calls_max,
            asr_min = excluded.asr_min, asr_avg = excluded.asr_avg, asr_max = excluded.asr_max,
            acd_min = excluded.acd_min, acd_avg = excluded.acd_avg, acd_max = excluded.acd_max
        RETURNING 1
    )
    INSERT INTO gateway_rollup_marks (at, rows)
    SELECT $1::timestamptz, count(*) FROM r
    ON CONFLICT (at) DO UPDATE SET rows = excluded.rows, done_at = now()
    RETURNING rows
"""
