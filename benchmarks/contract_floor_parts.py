"""Where the writer's contract floor goes: PostgreSQL alone, the 10,000-gateway snapshot in parts.

`benchmarks/writer_ingest.py` measures two floors: parsing the config reply as jsonb, and the
contract's whole write (both replies stored as jsonb, one row per gateway with its two items). This
splits the second into what it is made of, each part one statement in one transaction on the same
embedded PostgreSQL, the parts alternated round by round:

- `parse_config`: the config reply's text parsed as jsonb, nothing stored (writer_ingest's floor);
- `parse_both`: both replies parsed, nothing stored;
- `store_replies`: both replies stored as jsonb in a cache table (vos_data_cache's half);
- `store_rows`: both replies parsed and one row per gateway stored with its two items (the gateways
  table's half, without the replies);
- `contract`: both halves in one statement (writer_ingest's contract floor).

Each figure is also given as a ratio to `parse_config` of the same round, which is what
`writer_snapshot_vs_floor_ratio` divides by.

    python -m benchmarks.contract_floor_parts [--gateways 10000] [--rounds 5]   (prints; not in run_all)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime

import asyncpg

from benchmarks.harness import plain_pg_url, stack
from benchmarks.writer_ingest import CONTRACT_TABLES, CONTRACT_WRITE, reply_texts

PARSE_CONFIG = "SELECT pg_column_size(convert_from($1::bytea, 'UTF8')::jsonb)"
PARSE_BOTH = (
    "SELECT pg_column_size(convert_from($1::bytea, 'UTF8')::jsonb)"
    " + pg_column_size(convert_from($2::bytea, 'UTF8')::jsonb)"
)
STORE_REPLIES = """
    INSERT INTO bench_floor.cache
    SELECT 1, convert_from($1::bytea, 'UTF8')::jsonb
    UNION ALL SELECT 2, convert_from($2::bytea, 'UTF8')::jsonb
"""
STORE_ROWS = """
    WITH config AS (SELECT convert_from($1::bytea, 'UTF8')::jsonb AS doc),
         online AS (SELECT convert_from($2::bytea, 'UTF8')::jsonb AS doc),
         online_items AS (
             SELECT o.item ->> 'name' AS name, o.item
             FROM online, jsonb_array_elements(online.doc -> 'infoGatewayMappingOnlines') AS o(item))
    INSERT INTO bench_floor.gateways (name, config_data, online_data)
    SELECT c.item ->> 'name', c.item, online_items.item
    FROM config
    CROSS JOIN LATERAL jsonb_array_elements(config.doc -> 'infoGatewayMappings') AS c(item)
    LEFT JOIN online_items ON online_items.name = c.item ->> 'name'
"""
PARTS = {
    "parse_config": (PARSE_CONFIG, 1),
    "parse_both": (PARSE_BOTH, 2),
    "store_replies": (STORE_REPLIES, 2),
    "store_rows": (STORE_ROWS, 2),
    "contract": (CONTRACT_WRITE, 2),
}


async def timed(conn: asyncpg.Connection, sql: str, args: tuple[bytes, ...]) -> float:
    """One part on fresh scratch tables, in its own transaction."""
    await conn.execute(CONTRACT_TABLES)
    try:
        started = time.perf_counter()
        async with conn.transaction():
            await conn.execute(sql, *args)
        return time.perf_counter() - started
    finally:
        await conn.execute("DROP SCHEMA bench_floor CASCADE")


async def measure(database_url: str, count: int, rounds: int) -> dict[str, list[float]]:
    conn = await asyncpg.connect(plain_pg_url(database_url))
    try:
        texts = reply_texts(count, datetime.now(UTC))
        seen: dict[str, list[float]] = {name: [] for name in PARTS}
        for _ in range(rounds + 1):  # the first round warms the server up and is not counted
            for name, (sql, arity) in PARTS.items():
                seen[name].append(await timed(conn, sql, texts[:arity]))
        return {name: values[1:] for name, values in seen.items()}
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="contract_floor_parts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateways", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if min(args.gateways, args.rounds) < 1:
        parser.error("--gateways and --rounds must be at least 1")
    with stack("contract_floor_parts") as s:
        seen = asyncio.run(measure(s.database_url, args.gateways, args.rounds))
    floors = seen["parse_config"]
    print(f"contract floor in parts: {args.gateways} gateways, {args.rounds} rounds (median; × parse_config)")
    for name, values in seen.items():
        ratios = [v / f for v, f in zip(values, floors, strict=True)]
        print(
            f"  {name:14} {statistics.median(values):6.3f} s   ×{statistics.median(ratios):.2f}"
            f"   (rounds ×{min(ratios):.2f}–{max(ratios):.2f})"
        )


if __name__ == "__main__":
    main()
