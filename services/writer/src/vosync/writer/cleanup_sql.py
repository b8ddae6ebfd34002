"""The cleanup's statements: each deletes at most $2 rows, picked by a LIMITed, SKIP LOCKED subquery,
so a large backlog is worked off in short transactions that never wait for (or hold up) the relay or
a batch, whose locked rows are simply left for the next round.

The picked ids go to the DELETE as an array (`id = ANY(ARRAY(…))`: primary-key lookups; `id IN
(…)` planned a scan of the whole table per batch). Outbox rows are picked in id order, along the
primary key: ids grow with time, so the oldest rows come first and a batch reads little more than
it deletes (there is no index on published_at, which would make the relay's every mark a non-HOT
update).
"""

from __future__ import annotations

TRY_LOCK = "SELECT pg_try_advisory_xact_lock($1, $2)"

# $1 cutoff, $2 batch rows
DELETE_PUBLISHED = """
    DELETE FROM gateway_event_outbox
    WHERE id = ANY(ARRAY(
        SELECT id FROM gateway_event_outbox
        WHERE published_at < $1
        ORDER BY id
        LIMIT $2
        FOR UPDATE SKIP LOCKED))
"""

DELETE_DEAD = """
    DELETE FROM gateway_event_outbox
    WHERE id = ANY(ARRAY(
        SELECT id FROM gateway_event_outbox
        WHERE published_at IS NULL AND dead_at < $1
        ORDER BY id
        LIMIT $2
        FOR UPDATE SKIP LOCKED))
"""

# $1 cutoff, $2 batch rows, $3/$4 the (api_path, cache_key) pairs of the scheduled requests. FOR
# UPDATE re-reads a row a writer's commit changed meanwhile, and checks the timestamps on that.
DELETE_UNUSED_CACHE = """
    DELETE FROM vos_data_cache
    WHERE id = ANY(ARRAY(
        SELECT id FROM vos_data_cache
        WHERE last_attempt_at < $1
          AND (expires_at IS NULL OR expires_at < $1)
          AND (last_read_at IS NULL OR last_read_at < $1)
          AND (api_path, cache_key) NOT IN (SELECT * FROM unnest($3::text[], $4::text[]))
        LIMIT $2
        FOR UPDATE SKIP LOCKED))
"""
