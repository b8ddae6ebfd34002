"""The cleanup's pure decisions: which cache keys are never deleted, the cutoffs, the batching."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vosync.shared.cache_key import cache_key
from vosync.shared.catalogue import API_PATH_PREFIX
from vosync.shared.settings import Settings
from vosync.writer.cleanup_plan import RetentionPolicy, Table

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def kept(policy: RetentionPolicy) -> set[tuple[str, str]]:
    return set(zip(policy.kept_paths, policy.kept_keys, strict=True))


def test_the_unfiltered_key_of_every_scheduled_api_is_kept_and_nothing_else() -> None:
    policy = RetentionPolicy.from_settings(Settings())
    scheduled = Settings().catalogue.scheduled()
    assert kept(policy) == {(s.path, cache_key(s.path, {})) for s in scheduled}
    mapping = API_PATH_PREFIX + "GetGatewayMapping"
    assert (mapping, cache_key(mapping, {})) in kept(policy)
    assert (mapping, cache_key(mapping, {"names": ["gw-1"]})) not in kept(policy)
    customer = API_PATH_PREFIX + "GetCustomer"
    assert all(path != customer for path, _ in kept(policy))


def test_an_api_scheduled_by_the_operator_is_kept_too() -> None:
    policy = RetentionPolicy.from_settings(Settings(poll_intervals={"GetCustomer": 600}))
    customer = API_PATH_PREFIX + "GetCustomer"
    assert (customer, cache_key(customer, {})) in kept(policy)


def test_each_table_has_its_own_cutoff_and_a_full_batch_asks_for_another() -> None:
    policy = RetentionPolicy.from_settings(
        Settings(
            outbox_retention_s=3600,
            outbox_dead_retention_s=7200,
            cache_retention_s=600,
            writer_cleanup_batch_rows=10,
        )
    )
    assert policy.cutoff(Table.OUTBOX, NOW) == NOW - timedelta(hours=1)
    assert policy.cutoff(Table.OUTBOX_DEAD, NOW) == NOW - timedelta(hours=2)
    assert policy.cutoff(Table.CACHE, NOW) == NOW - timedelta(minutes=10)
    assert policy.more(10) and not policy.more(9) and not policy.more(0)


def test_defaults_and_the_read_touch_interval() -> None:
    settings = Settings()
    assert settings.outbox_retention_s == settings.cache_retention_s == 7 * 86400
    assert settings.outbox_dead_retention_s == 30 * 86400
    assert settings.cache_read_touch_s == 3600  # at most one mark per key an hour
    assert Settings(cache_retention_s=600).cache_read_touch_s == 60  # ten chances within retention
