"""The cleanup's statements: each deletes at most $2 rows, picked by a LIMITed, SKIP LOCKED subquery,
so a large backlog is worked off in short transactions that never wait for (or hold up) the relay or
a batch, whose locked rows are simply left for the next round.
"""

from __future__ import annotations

TRY_LOCK = "SELECT pg_try_advisory_xact_lock($1, $2)"

# $1 cutoff, $2 batch rows
DELETE_PUBLISHED = """
    DELETE FROM gateway_event_outbox
    WHERE id IN (
        SELECT id FROM gateway_event_outbox
        WHERE published_at < $1
        LIMIT $2
        FOR UPDATE SKIP LOCKED)
"""

DELETE_DEAD = """
    DELETE FROM gateway_event_outbox
    WHERE id IN (
        SELECT id FROM gateway_event_outbox
        WHERE published_at IS NULL AND dead_at < $1
        LIMIT $2
        FOR UPDATE SKIP LOCKED)
"""

# $1 cutoff, $2 batch rows, $3/$4 the (api_path, cache_key) pairs of the scheduled requests. FOR
# UPDATE re-reads a row a writer's commit changed meanwhile, and checks the timestamps on that.
DELETE_UNUSED_CACHE = """
    DELETE FROM vos_data_cache
    WHERE id IN (
        SELECT id FROM vos_data_cache
        WHERE last_attempt_at < $1
          AND (expires_at IS NULL OR expires_at < $1)
          AND (last_read_at IS NULL OR last_read_at < $1)
          AND (api_path, cache_key) NOT IN (SELECT * FROM unnest($3::text[], $4::text[]))
        LIMIT $2
        FOR UPDATE SKIP LOCKED)
"""
