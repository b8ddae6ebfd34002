"""What if the data contract gave up its JSON types? The writer's 10,000-gateway snapshot, three ways.

A what-if for a decision, not a figure of the product (nothing goes into results.json, and `make
bench` does not run it). The writer's own batch code applies the config reply and then the online
reply, one transaction each, as it takes them from the bus (the results are bus-encoded and
decoded lazily first, so the reply reaches the writer as text, as in production); the time runs
from the first statement to the second commit. The variants, each on its own fresh PostgreSQL:

- `jsonb`: the contract as it is (vos_data_cache.response_data jsonb, each gateway's config item
  jsonb, taken from the cache row);
- `json`: both columns `json` (PostgreSQL validates the text instead of building jsonb; raw_data
  stays jsonb, computed when read);
- `text`: the reply stored as unvalidated text and no per-gateway copy of the config item (raw_data
  would have to come from the cache row when read): the least the database can be asked to do.

The variants change the schema after the migrations and the writer's SQL text in this process only
(the patches check that the SQL they change is still there). Variants run in turn, round after
round, so that the machine's drift hits them alike.

    python -m benchmarks.writer_contract_variants [--rounds 2] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta

import asyncpg

from benchmarks.harness import plain_pg_url, stack
from benchmarks.writer_ingest import add_bench_instance, check_committed, empty_tables, snapshot
from vosync.shared.codec import decode_result_lazily, encode
from vosync.shared.db.models import GATEWAY_RAW_DATA_SQL
from vosync.shared.gc_pause import gc_paused
from vosync.shared.settings import Settings
from vosync.writer import cache_rows, gateway_sql
from vosync.writer.apply import BatchApplier
from vosync.writer.db import create_pool
from vosync.writer.results import checked

VARIANTS = ("jsonb", "json", "text")
_ORIGINAL_SQL = (cache_rows.UPSERT, gateway_sql.UPDATE, gateway_sql.INSERT)
_ITEMS_JSONB = "jsonb_array_elements(c.response_data -> s.list_key) WITH ORDINALITY AS e(item, ord)"
_ITEMS_JSON = "json_array_elements(c.response_data -> s.list_key) WITH ORDINALITY AS e(item, ord)"
# No item, one row per position the batch stages (the staging table is the writer's own).
_NO_ITEMS = (
    f"(SELECT NULL::json, w.ord FROM {gateway_sql.STAGE_TABLE} w WHERE w.ord IS NOT NULL) AS e(item, ord)"
)
_NEW_CONFIG = "CASE WHEN n.set_config THEN i.item ELSE g.config_data END"
_CONFIG_CHANGED = f"{_NEW_CONFIG} IS DISTINCT FROM g.config_data"
_CONFIG_CHANGED_AS_TEXT = f"({_NEW_CONFIG})::text IS DISTINCT FROM g.config_data::text"


def _replaced(text: str, old: str, new: str) -> str:
    if old not in text:
        raise SystemExit(f"writer_contract_variants: the writer's SQL no longer holds {old[:60]!r}")
    return text.replace(old, new)


def patch_sql(variant: str) -> None:
    """The writer's SQL for the variant (json has no equality operator: items compare as text)."""
    upsert, update, insert = _ORIGINAL_SQL
    if variant != "jsonb":
        reply = "convert_from(n.response_data, 'UTF8')"
        upsert = _replaced(upsert, f"{reply}::jsonb", f"{reply}::json" if variant == "json" else reply)
        items = _ITEMS_JSON if variant == "json" else _NO_ITEMS
        update = _replaced(_replaced(update, _ITEMS_JSONB, items), _CONFIG_CHANGED, _CONFIG_CHANGED_AS_TEXT)
        insert = _replaced(insert, _ITEMS_JSONB, items)
    cache_rows.UPSERT, gateway_sql.UPDATE, gateway_sql.INSERT = upsert, update, insert


async def alter_schema(conn: asyncpg.Connection, variant: str) -> None:
    if variant == "jsonb":
        return
    column = "json" if variant == "json" else "text"
    raw_data = _replaced(GATEWAY_RAW_DATA_SQL, "coalesce(config_data,", "coalesce(config_data::jsonb,")
    await conn.execute(
        f"ALTER TABLE vos_data_cache ALTER response_data TYPE {column} USING response_data::{column}"
    )
    await conn.execute("ALTER TABLE gateways DROP COLUMN raw_data")
    await conn.execute("ALTER TABLE gateways ALTER config_data TYPE json USING config_data::json")
    await conn.execute("ALTER TABLE gateways ALTER config_data SET STORAGE EXTERNAL")
    await conn.execute(
        f"ALTER TABLE gateways ADD COLUMN raw_data jsonb GENERATED ALWAYS AS ({raw_data}) VIRTUAL"
    )


async def measure(database_url: str, variant: str, count: int, runs: int) -> list[float]:
    conn = await asyncpg.connect(plain_pg_url(database_url))
    settings = Settings(database_url=database_url)
    pool = await create_pool(settings)
    try:
        await alter_schema(conn, variant)
        patch_sql(variant)
        applier = BatchApplier(pool, settings.catalogue)
        await add_bench_instance(conn)
        base = datetime.now(UTC)
        times = []
        for run in range(runs):
            await empty_tables(conn)
            config, online = (
                checked(decode_result_lazily(*encode(r)))
                for r in snapshot(count, base + timedelta(minutes=run))
            )
            started = time.perf_counter()
            with gc_paused():  # as the writer's consumer applies a batch
                await applier.apply([config])
                await applier.apply([online])
            times.append(time.perf_counter() - started)
            if variant != "text":  # "text" stores no config item, which check_committed does not mind
                await check_committed(conn, count)
        return times
    finally:
        patch_sql("jsonb")
        await pool.close()
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="writer_contract_variants", description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateways", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if min(args.gateways, args.rounds, args.runs) < 1:
        parser.error("--gateways, --rounds and --runs must be at least 1")
    seen: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for round_ in range(args.rounds):
        for variant in VARIANTS:
            with stack(f"writer_variants_{variant}") as s:
                times = asyncio.run(measure(s.database_url, variant, args.gateways, args.runs))
            seen[variant].extend(times)
            print(f"round {round_ + 1} {variant:5}: " + " ".join(f"{t:.3f}" for t in times), flush=True)
    for variant, times in seen.items():
        median, best = statistics.median(times), min(times)
        print(f"{variant:5} median {median:.3f} s, best {best:.3f} s ({len(times)} runs)")


if __name__ == "__main__":
    main()
