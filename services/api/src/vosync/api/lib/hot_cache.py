"""The in-process cache of hot proxy replies, so a fresh cached read needs no database round trip.

Entries hold the VOS reply as pre-serialised JSON bytes (and, made once on first use, a copy with
secrets masked). An entry is kept until its `expires_at` plus the API's stale-while-revalidate
grace (`get` returns it until then; whether it is still fresh is the caller's question); the
writer's `vos.cache.changed.*` notifications drop entries whose row changed. Every invalidation
bumps a per-instance generation: a loader records the generation before it reads, and `put`
refuses the entry if the generation moved meanwhile, so a read that raced a change can never park
old data in the cache.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import msgspec

from vosync.api.lib.gzip_parts import GzipBody
from vosync.api.lib.jsonutil import dumps
from vosync.api.lib.lru import InstanceLru
from vosync.api.lib.redact import has_secret, redact

CacheKey = tuple[int, str, str]  # (instance_id, api_path, cache_key)


@dataclass(slots=True, eq=False)
class CachedReply:
    instance_id: int
    api_path: str
    cache_key: str
    data: bytes  # the VOS reply as JSON, secrets included
    synced_at: datetime | None
    expires_at: datetime | None
    compact: bool = False  # already minimal JSON (ours); PostgreSQL's jsonb text has spaces
    _masked: bytes | None = field(default=None, repr=False)
    # Per variant (unmasked?): made on first use, so once per change of the row, not per request.
    _etags: dict[bool, str] = field(default_factory=dict, repr=False)
    _gzips: dict[bool, GzipBody] = field(default_factory=dict, repr=False)

    @property
    def key(self) -> CacheKey:
        return (self.instance_id, self.api_path, self.cache_key)

    @property
    def expires_ts(self) -> float:
        return self.expires_at.timestamp() if self.expires_at is not None else 0.0

    def body(self, *, unmasked: bool) -> bytes:
        """The reply JSON for a caller: with secrets for admins, masked for everyone else.

        Both are made once per entry, on first use: parse, re-encode compactly (a 1,000-gateway
        reply shrinks by a tenth), mask a copy if it holds secrets at all."""
        if self._masked is None:
            parsed = msgspec.json.decode(self.data)
            if not self.compact:
                self.data, self.compact = dumps(parsed), True
            self._masked = dumps(redact(parsed)) if has_secret(parsed) else self.data
        return self.data if unmasked else self._masked

    def etag(self, *, unmasked: bool) -> str:
        """A weak validator of what this caller sees: the data (masked or not) and when VOS gave it.
        Weak, because the reply's head (age_s, data_source) differs per request around the same
        data (RFC 9110 §8.8.1)."""
        tag = self._etags.get(unmasked)
        if tag is None:
            digest = hashlib.blake2b(self.body(unmasked=unmasked), digest_size=12).hexdigest()
            synced = int(self.synced_at.timestamp() * 1000) if self.synced_at is not None else 0
            tag = self._etags[unmasked] = f'W/"{digest}-{synced:x}"'
        return tag

    def gzip(self, *, unmasked: bool) -> GzipBody:
        """The reply's data and closing brace, deflated once (see lib/gzip_parts)."""
        packed = self._gzips.get(unmasked)
        if packed is None:
            packed = self._gzips[unmasked] = GzipBody.of(self.body(unmasked=unmasked) + b"}")
        return packed


@dataclass(slots=True)
class _Slot:
    reply: CachedReply
    keep_until_ts: float  # expires_at + grace
    size: int


class HotCache(InstanceLru[CacheKey, _Slot]):
    def get(self, key: CacheKey, now_ts: float | None = None) -> CachedReply | None:
        """The entry, fresh or inside its grace window (compare `reply.expires_ts` to tell)."""
        slot = self._entries.get(key)
        if slot is None:
            return None
        if slot.keep_until_ts <= (time.time() if now_ts is None else now_ts):
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return slot.reply

    def put(self, reply: CachedReply, generation: tuple[int, int], grace_s: float = 0.0) -> bool:
        """Keep `reply` (until `expires_at` + `grace_s`) unless its instance was invalidated since
        `generation` was read."""
        # Budget for the masked copy up front: most callers are not admins. The gzip copies, made
        # only when a client asks, are a fifth of that or less and not counted.
        size = 2 * len(reply.data) + 256
        return self._admit(reply.key, _Slot(reply, reply.expires_ts + grace_s, size), generation)

    def invalidate(self, instance_id: int, cache_keys: Iterable[str]) -> int:
        wanted = set(cache_keys)
        self._bump(instance_id)
        doomed = [key for key in self._by_instance.get(instance_id, ()) if key[2] in wanted]
        for key in doomed:
            self._drop(key)
        return len(doomed)
