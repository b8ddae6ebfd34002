"""The in-process reply cache: expiry, invalidation, the generation guard against racing reads."""

import time
from datetime import UTC, datetime, timedelta

import msgspec

from vosync.api.lib.hot_cache import CachedReply, HotCache


def reply(instance_id: int = 1, key: str = "k1", ttl_s: float = 60, data: bytes = b'{"a":1}') -> CachedReply:
    now = datetime.now(UTC)
    expires = now + timedelta(seconds=ttl_s)
    return CachedReply(instance_id, "/external/server/GetSuite", key, data, now, expires)


def test_put_get_and_expiry() -> None:
    cache = HotCache(1 << 20)
    fresh, expired = reply(key="fresh"), reply(key="old", ttl_s=-1)
    assert cache.put(fresh, cache.generation(1))
    assert cache.put(expired, cache.generation(1))
    assert cache.get(fresh.key) is fresh
    assert cache.get(expired.key) is None
    assert cache.get(fresh.key, now_ts=time.time() + 120) is None  # expires_at is honoured
    assert len(cache) == 0


def test_invalidation_drops_matching_keys_of_that_instance_only() -> None:
    cache = HotCache(1 << 20)
    a, b, other = reply(key="a"), reply(key="b"), reply(instance_id=2, key="a")
    for r in (a, b, other):
        cache.put(r, cache.generation(r.instance_id))
    assert cache.invalidate(1, ["a", "zzz"]) == 1
    assert cache.get(a.key) is None and cache.get(b.key) is b and cache.get(other.key) is other
    assert cache.invalidate_instance(1) == 1
    assert cache.get(b.key) is None and cache.get(other.key) is other


def test_a_read_that_raced_an_invalidation_is_not_cached() -> None:
    cache = HotCache(1 << 20)
    before = cache.generation(1)  # a loader starts reading the database…
    cache.invalidate(1, ["k1"])  # …the writer commits a change meanwhile…
    assert not cache.put(reply(), before)  # …so what the loader read must not be served
    assert cache.put(reply(), cache.generation(1))
    other_instance = cache.generation(2)
    cache.invalidate(1, ["k1"])
    assert cache.put(reply(instance_id=2), other_instance)  # other instances are unaffected


def test_clear_invalidates_in_flight_loads_of_every_instance() -> None:
    cache = HotCache(1 << 20)
    before = cache.generation(7)
    cache.clear()
    assert not cache.put(reply(instance_id=7), before)


def test_size_bound_evicts_least_recently_used() -> None:
    data = b"x" * 1000
    cache = HotCache(3 * (2 * len(data) + 256))
    replies = [reply(key=f"k{i}", data=data) for i in range(4)]
    for r in replies[:3]:
        cache.put(r, cache.generation(1))
    cache.get(replies[0].key)  # recently used: survives
    cache.put(replies[3], cache.generation(1))
    assert cache.get(replies[1].key) is None
    assert all(cache.get(r.key) is r for r in (replies[0], replies[2], replies[3]))
    assert cache.size_bytes <= cache.max_bytes
    assert not HotCache(10).put(reply(), (0, 0))  # larger than the whole budget: not cached


def test_masked_body_is_made_once_and_shares_bytes_without_secrets() -> None:
    secret = reply(data=msgspec.json.encode({"list": [{"name": "g", "password": "s"}]}))
    assert msgspec.json.decode(secret.body(unmasked=False)) == {"list": [{"name": "g", "password": "***"}]}
    assert secret.body(unmasked=False) is secret.body(unmasked=False)
    assert b'"s"' in secret.body(unmasked=True)
    plain = reply()
    assert plain.body(unmasked=False) is plain.body(unmasked=True)


def test_database_text_is_served_compact() -> None:
    spaced = reply(data=b'{"retCode": 0, "infoSuites": [{"suiteId": 1}]}')
    assert spaced.body(unmasked=True) == b'{"retCode":0,"infoSuites":[{"suiteId":1}]}'
    assert spaced.body(unmasked=False) is spaced.body(unmasked=True)


def test_an_entry_is_kept_through_its_grace_window_then_dropped() -> None:
    cache = HotCache(1 << 20)
    entry = reply(ttl_s=10)
    assert cache.put(entry, cache.generation(1), grace_s=30)
    later = time.time() + 20  # expired, inside the window: returned, the caller sees it is stale
    got = cache.get(entry.key, now_ts=later)
    assert got is entry and got.expires_ts < later
    assert cache.get(entry.key, now_ts=time.time() + 41) is None and len(cache) == 0


def test_etag_and_gzip_are_made_once_per_view() -> None:
    import gzip

    secret = reply(data=msgspec.json.encode({"list": [{"name": "g", "password": "s"}] * 200}))
    tag = secret.etag(unmasked=False)
    assert tag.startswith('W/"') and secret.etag(unmasked=False) is tag
    assert secret.etag(unmasked=True) != tag
    packed = secret.gzip(unmasked=False)
    assert secret.gzip(unmasked=False) is packed
    assert gzip.decompress(b"".join(packed.parts(b"{"))) == b"{" + secret.body(unmasked=False) + b"}"
