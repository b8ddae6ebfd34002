"""The gateway list cache: the reply split around age_s, generations, per-instance drops, the bound."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import msgspec

from vosync.api.lib.list_cache import MAX_AGE_S, CachedList, ListCache, ListKey


def body(name: str = "vos-a", age: None = None) -> bytes:
    return msgspec.json.encode(
        {"instance_id": 1, "instance_name": name, "total": 1, "age_s": age, "items": [{"age_s": None}]}
    )


def key(instance_id: int = 1, offset: int = 0) -> ListKey:
    return (instance_id, "vos-a", None, None, None, "name", 100, offset)


def test_age_is_spliced_in_per_read() -> None:
    synced = datetime.now(UTC) - timedelta(seconds=5)
    entry = CachedList.of(body('tricky "age_s":null'), synced)
    now = time.time()
    first = msgspec.json.decode(b"".join(entry.parts(now)))
    later = msgspec.json.decode(b"".join(entry.parts(now + 2)))
    assert 4.9 < first["age_s"] < 5.5 and abs(later["age_s"] - first["age_s"] - 2) < 0.01
    assert first["instance_name"] == 'tricky "age_s":null' and first["items"] == [{"age_s": None}]
    assert msgspec.json.decode(b"".join(CachedList.of(body(), None).parts()))["age_s"] is None


def test_generation_guard_invalidation_and_bound() -> None:
    cache = ListCache(1 << 20)
    entry = CachedList.of(body(), None)
    stale_generation = cache.generation(1)
    cache.invalidate_instance(1)
    assert not cache.put(key(), entry, stale_generation)  # a read that raced a change
    assert cache.put(key(), entry, cache.generation(1)) and cache.get(key()) is entry
    assert cache.put(key(2), entry, cache.generation(2))
    assert cache.invalidate_instance(1) == 1 and cache.get(key()) is None and cache.get(key(2)) is entry
    cache.clear()
    assert len(cache) == 0 and cache.size_bytes == 0
    small = ListCache(2 * entry.size)
    for offset in range(3):
        small.put(key(offset=offset), entry, small.generation(1))
    assert small.get(key(offset=0)) is None and len(small) == 2 and small.size_bytes <= small.max_bytes
    assert not ListCache(1).put(key(), entry, (0, 0))


def test_an_entry_is_held_at_most_max_age_s() -> None:
    """uptime_24h / flaps_24h move with the clock and no change note says so: bounded age."""
    cache = ListCache(1 << 20)
    entry = CachedList.of(body(), None)
    assert cache.put(key(), entry, cache.generation(1))
    assert cache.get(key()) is entry
    entry.made -= MAX_AGE_S - 1  # made 59 s ago: still served
    assert cache.get(key()) is entry
    entry.made -= 2  # 61 s ago: gone, and its bytes with it
    assert cache.get(key()) is None and len(cache) == 0 and cache.size_bytes == 0
