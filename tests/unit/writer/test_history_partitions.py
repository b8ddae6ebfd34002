"""Which history partitions exist and which expire: names carry the range; boundaries are exact."""

from __future__ import annotations

from datetime import UTC, datetime

from vosync.writer.history_partitions import Family, expired, missing, parse, partition_of, wanted

DAY = Family("gateway_samples", "day", 30)
MONTH = Family("gateway_samples_hourly", "month", 365)
NOW = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)


def test_wanted_spans_yesterday_to_two_days_ahead_and_months_around_now() -> None:
    assert [p.name for p in wanted(DAY, NOW)] == [
        "gateway_samples_p20251231",
        "gateway_samples_p20260101",
        "gateway_samples_p20260102",
        "gateway_samples_p20260103",
    ]
    assert [p.name for p in wanted(MONTH, NOW)] == [
        "gateway_samples_hourly_p202512",
        "gateway_samples_hourly_p202601",
        "gateway_samples_hourly_p202602",
    ]
    december = partition_of(MONTH, datetime(2025, 12, 31, 23, 59, tzinfo=UTC))
    assert (december.start, december.end) == (
        datetime(2025, 12, 1, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_a_partition_expires_only_once_all_of_it_is_older_than_the_retention() -> None:
    existing = ["gateway_samples_p20251201", "gateway_samples_p20251202", "gateway_samples_p20251203"]
    # Retention 30 days from 2026-01-01 00:30: the horizon is 2025-12-02 00:30.
    assert [p.name for p in expired(DAY, NOW, existing)] == ["gateway_samples_p20251201"]
    assert missing(DAY, NOW, [*existing, "gateway_samples_p20260101"]) == [
        p for p in wanted(DAY, NOW) if p.name != "gateway_samples_p20260101"
    ]


def test_names_it_did_not_make_are_left_alone() -> None:
    for name in (
        "gateway_samples_p2025120",
        "gateway_samples_p20251341",
        "gateway_samples_old",
        "other_p20250101",
    ):
        assert parse(DAY, name) is None
    assert expired(DAY, NOW, ["gateway_samples_default", "gateway_samples_p20200101x"]) == []
