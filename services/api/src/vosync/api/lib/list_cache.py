"""The in-process cache of gateway list replies (GET /instances/{id}/gateways…), pre-serialised.

A page of 100 gateways costs three queries and an encode; held here it costs a dict lookup. Entries
are keyed by instance and normalised query and dropped by the writer's `vos.cache.changed.<inst>`
notes for that instance (both changed data and confirmed-unchanged polls, since the reply shows when
VOS was last asked). The reply's one time-dependent field, `age_s`, is not frozen: the bytes are
held split around it and the value is spliced in per request. Like the hot cache, a per-instance
generation read before the database query makes `put` refuse an entry whose instance changed
meanwhile.

Entries also have a bounded age, MAX_AGE_S: each item's uptime_24h moves with the clock (and
flaps_24h as transitions leave the 24 h window) with no change note to say so, so an entry is made
again from the database at least that often.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime

from vosync.api.lib.gzip_parts import MIN_GZIP_BYTES, GzipBody
from vosync.api.lib.jsonutil import dumps
from vosync.api.lib.lru import InstanceLru

# (instance_id, instance_name, type, online, q, sort, limit, offset): the name is part of the key,
# so a renamed instance never gets a reply naming it the old way.
ListKey = tuple[int, str, str | None, bool | None, str | None, str, int, int]

_AGE_FIELD = b'"age_s":'
MAX_AGE_S = 60.0  # how stale uptime_24h / flaps_24h in a held list may be


@dataclass(slots=True)
class CachedList:
    head: bytes  # the reply up to and including `"age_s":`
    tail: bytes  # the rest, after the age value
    online_synced_ts: float | None  # what age_s counts from
    made: float = 0.0  # time.monotonic() when encoded
    # Made on first use, once per entry (i.e. per change of the instance's table).
    _etag: str | None = field(default=None, repr=False)
    _gzip: GzipBody | None = field(default=None, repr=False)

    @classmethod
    def of(cls, body: bytes, online_synced_at: datetime | None) -> CachedList:
        """Split an encoded GatewayList whose age_s is null. The first `"age_s":` is the top-level
        field: it precedes `items`, and inside a JSON string its quotes would be escaped."""
        at = body.index(_AGE_FIELD + b"null") + len(_AGE_FIELD)
        ts = online_synced_at.timestamp() if online_synced_at is not None else None
        return cls(body[:at], body[at + len(b"null") :], ts, time.monotonic())

    @property
    def size(self) -> int:
        return len(self.head) + len(self.tail)

    def _age(self, now_ts: float | None) -> bytes:
        if self.online_synced_ts is None:
            return b"null"
        return dumps(round((time.time() if now_ts is None else now_ts) - self.online_synced_ts, 3))

    def parts(self, now_ts: float | None = None) -> tuple[bytes, bytes, bytes]:
        """The reply as three parts to send in turn, with age_s computed now."""
        return self.head, self._age(now_ts), self.tail

    @property
    def compressible(self) -> bool:
        return len(self.tail) >= MIN_GZIP_BYTES

    def gzip_parts(self, now_ts: float | None = None) -> tuple[bytes, bytes, bytes]:
        """The same reply gzip-compressed: the items deflated once, the head framed per request."""
        if self._gzip is None:
            self._gzip = GzipBody.of(self.tail)
        return self._gzip.parts(self.head + self._age(now_ts))

    @property
    def etag(self) -> str:
        """Weak: age_s differs per request around the same rows (RFC 9110 §8.8.1)."""
        if self._etag is None:
            digest = hashlib.blake2b(self.head + b"\0" + self.tail, digest_size=12).hexdigest()
            self._etag = f'W/"{digest}"'
        return self._etag


class ListCache(InstanceLru[ListKey, CachedList]):
    def get(self, key: ListKey) -> CachedList | None:
        entry = self._entries.get(key)
        if entry is not None and time.monotonic() - entry.made > MAX_AGE_S:
            self._drop(key)
            return None
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: ListKey, entry: CachedList, generation: tuple[int, int]) -> bool:
        return self._admit(key, entry, generation)
