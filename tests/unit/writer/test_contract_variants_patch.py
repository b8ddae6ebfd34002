"""The what-if benchmark rewrites the writer's SQL text: it must still find what it rewrites.

benchmarks/writer_contract_variants.py is not run by CI; this keeps it from rotting silently when
the writer's SQL changes (it would stop with a sentence instead of measuring something else).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchmarks import writer_contract_variants as variants
from vosync.writer import cache_rows, gateway_sql


@pytest.fixture(autouse=True)
def _restore_sql() -> Iterator[None]:
    yield
    variants.patch_sql("jsonb")


def _sql() -> tuple[str, str, str]:
    return cache_rows.UPSERT, gateway_sql.UPDATE, gateway_sql.INSERT


def test_json_variant_stores_json_and_takes_items_from_it() -> None:
    original = _sql()
    variants.patch_sql("json")
    upsert, update, insert = _sql()
    assert "::jsonb, n.content_hash" not in upsert and "'UTF8')::json," in upsert
    assert "json_array_elements(c.response_data" in insert and "jsonb_array_elements" not in insert
    assert variants._CONFIG_CHANGED_AS_TEXT in update
    variants.patch_sql("jsonb")
    assert _sql() == original


def test_text_variant_stores_text_and_no_item() -> None:
    variants.patch_sql("text")
    upsert, update, insert = _sql()
    assert "convert_from(n.response_data, 'UTF8'), n.content_hash" in upsert
    for statement in (update, insert):
        assert "NULL::json" in statement and "array_elements" not in statement


def test_a_rewrite_that_finds_nothing_stops_with_a_sentence() -> None:
    with pytest.raises(SystemExit, match="no longer holds"):
        variants._replaced("SELECT 1", "jsonb_array_elements(", "json_array_elements(")
