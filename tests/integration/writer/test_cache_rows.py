"""vos_data_cache semantics against a real PostgreSQL (through the writer's batch transaction)."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.integration.writer.helpers import cache_row
from vosync.shared.messages import ErrorKind, FetchResult
from vosync.sim.replies import at, failed, ok
from vosync.writer.apply import BatchApplier, Disposition

SUITES = "GetSuite"


def suite_items(*names: str) -> list[dict[str, object]]:
    return [{"id": i, "name": n, "rentType": 1} for i, n in enumerate(names)]


def suites(*names: str) -> dict[str, object]:
    return {"retCode": 0, "infoSuites": suite_items(*names)}


async def applied_row(
    applier: BatchApplier, conn: asyncpg.Connection, result: FetchResult
) -> dict[str, Any] | None:
    """The cache row of `result`'s key once `result` is applied in a batch of its own."""
    await applier.apply([result])
    return await cache_row(conn, result)


async def test_success_then_failure_keeps_data_and_records_the_error(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    good = ok(SUITES, suites("basic"), fetched_at=10)
    report = await applier.apply([good])
    assert [o for _, o in report.outcomes] == [Disposition.APPLIED]
    row = await cache_row(pg_conn, good)
    assert row is not None
    assert row["response_data"] == good.response and row["is_valid"]
    assert row["synced_at"] == at(10) and row["last_attempt_at"] == at(10)
    assert row["expires_at"] == at(10 + 300)  # GetSuite TTL from the catalogue
    assert row["content_hash"] and len(row["content_hash"]) == 32
    assert row["ret_code"] == 0 and row["error_message"] is None and row["api_name"] == SUITES

    bad = failed(SUITES, fetched_at=20, kind=ErrorKind.TIMEOUT, ret_code=None, error="timed out after 10 s")
    report = await applier.apply([bad])
    assert [o for _, o in report.outcomes] == [Disposition.FAILURE]
    after = await cache_row(pg_conn, bad)
    assert after is not None
    assert after["response_data"] == good.response and after["content_hash"] == row["content_hash"]
    assert after["is_valid"] and after["synced_at"] == at(10) and after["expires_at"] == at(310)
    assert after["error_kind"] == "timeout" and after["error_message"] == "timed out after 10 s"
    assert after["last_error_at"] == at(20) and after["last_attempt_at"] == at(20)
    assert report.changed_keys == {1: {good.cache_key}}  # the error state is a visible change

    again = ok(SUITES, suites("basic", "gold"), fetched_at=30)
    recovered = await applied_row(applier, pg_conn, again)
    assert recovered is not None
    assert recovered["response_data"] == again.response and recovered["synced_at"] == at(30)
    assert recovered["error_kind"] is None and recovered["error_message"] is None
    assert recovered["last_error_at"] == at(20)  # the last error stays on record


async def test_first_ever_failure_creates_a_row_without_data(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    bad = failed(SUITES, fetched_at=5, ret_code=-10007, error="Not found, operation failed.")
    row = await applied_row(applier, pg_conn, bad)
    assert row is not None
    assert row["response_data"] is None and not row["is_valid"] and row["synced_at"] is None
    assert row["ret_code"] == -10007 and row["error_kind"] == "ret_code"
    assert row["error_message"] == "Not found, operation failed." and row["last_error_at"] == at(5)


async def test_an_older_result_changes_nothing(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    newer = ok(SUITES, suites("new"), fetched_at=100)
    before = await applied_row(applier, pg_conn, newer)
    for older in (ok(SUITES, suites("old"), fetched_at=50), failed(SUITES, fetched_at=60)):
        report = await applier.apply([older])
        assert [o for _, o in report.outcomes] == [Disposition.STALE]
        assert report.changed_keys == {}
        assert await cache_row(pg_conn, older) == before


async def test_an_unchanged_reply_rewrites_only_timestamps(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    first = ok(SUITES, suites("a", "b"), fetched_at=0)
    before = await applied_row(applier, pg_conn, first)
    second = ok(SUITES, suites("a", "b"), fetched_at=40)  # the same reply, fetched again
    report = await applier.apply([second])
    assert [o for _, o in report.outcomes] == [Disposition.UNCHANGED] and report.changed_keys == {}
    assert report.synced_keys == {instance: {second.cache_key}}  # for caches that show synced_at
    after = await cache_row(pg_conn, second)
    assert before is not None and after is not None
    assert (
        after["content_hash"] == before["content_hash"] and after["response_data"] == before["response_data"]
    )
    assert (
        after["synced_at"] == at(40) and after["last_attempt_at"] == at(40) and after["expires_at"] == at(340)
    )
    assert after["id"] == before["id"] and after["created_at"] == before["created_at"]


async def test_the_same_items_in_another_key_order_are_stored_as_a_new_reply(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    """The hash is of the reply's text (VOS sends its keys in a fixed order): reordering is a change."""
    first = ok(SUITES, suites("a", "b"), fetched_at=0)
    before = await applied_row(applier, pg_conn, first)
    reordered = {
        "infoSuites": [dict(reversed(item.items())) for item in suite_items("a", "b")],
        "retCode": 0,
    }
    second = ok(SUITES, reordered, fetched_at=40)
    report = await applier.apply([second])
    assert [o for _, o in report.outcomes] == [Disposition.APPLIED]
    after = await cache_row(pg_conn, second)
    assert before is not None and after is not None
    assert after["content_hash"] != before["content_hash"] and after["response_data"] == reordered
    assert report.changed_keys == {instance: {second.cache_key}}


async def test_a_batch_keeps_the_newest_result_per_key(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    results = [
        ok(SUITES, suites("v3"), fetched_at=30),
        ok(SUITES, suites("v1"), fetched_at=10),
        failed(SUITES, fetched_at=20),
    ]
    report = await applier.apply(results)
    outcomes = {r.fetched_at: o for r, o in report.outcomes}
    assert outcomes == {
        at(30): Disposition.APPLIED,
        at(10): Disposition.SUPERSEDED,
        at(20): Disposition.SUPERSEDED,
    }
    row = await cache_row(pg_conn, results[0])
    assert row is not None
    assert row["response_data"] == results[0].response and row["synced_at"] == at(30)
    assert row["error_kind"] is None and row["last_error_at"] == at(20)


async def test_results_of_an_unknown_instance_are_dropped(
    applier: BatchApplier, pg_conn: asyncpg.Connection, instance: int
) -> None:
    stray = ok(SUITES, suites("x"), instance_id=99)
    kept = ok(SUITES, suites("y"), instance_id=1)
    report = await applier.apply([stray, kept])
    assert report.unknown_instances == {99: 1}
    assert await cache_row(pg_conn, stray) is None and await cache_row(pg_conn, kept) is not None
