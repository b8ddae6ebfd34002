"""The bounded LRU both in-process reply caches (`hot_cache`, `list_cache`) are built on.

Entries are keyed by tuples whose first element is the instance id, and each knows its own `size`
in bytes; the store keeps their total under `max_bytes`, evicting the least recently used. Every
invalidation bumps a per-instance generation (`clear` bumps an epoch, for all instances at once): a
loader reads `generation` before it queries and `_admit` refuses the entry if it moved meanwhile,
so a read that raced a change can never park old data in the cache.

Lookups stay in the caches themselves (each has its own expiry rule) and read `_entries` directly,
so a hit costs no more than a dict lookup and `move_to_end`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Generic, Protocol, TypeVar


class _Sized(Protocol):
    @property
    def size(self) -> int: ...


K = TypeVar("K", bound=tuple[Any, ...])  # key[0] is the instance id
V = TypeVar("V", bound=_Sized)


class InstanceLru(Generic[K, V]):
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._by_instance: dict[int, set[K]] = {}
        self._generation: dict[int, int] = {}
        self._epoch = 0  # bumped by clear(), which invalidates every instance at once
        self._bytes = 0

    def generation(self, instance_id: int) -> tuple[int, int]:
        return (self._epoch, self._generation.get(instance_id, 0))

    def __len__(self) -> int:
        return len(self._entries)

    def invalidate_instance(self, instance_id: int) -> int:
        self._bump(instance_id)
        doomed = list(self._by_instance.get(instance_id, ()))
        for key in doomed:
            self._drop(key)
        return len(doomed)

    def clear(self) -> None:
        """Forget everything (after a NATS reconnect: invalidations may have been missed)."""
        self._epoch += 1
        self._entries.clear()
        self._by_instance.clear()
        self._bytes = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def _admit(self, key: K, entry: V, generation: tuple[int, int]) -> bool:
        """Keep `entry` unless its instance was invalidated since `generation` was read or it alone
        exceeds the budget; evict the least recently used until the total fits."""
        if generation != self.generation(key[0]) or entry.size > self.max_bytes:
            return False
        self._drop(key)
        self._entries[key] = entry
        self._by_instance.setdefault(key[0], set()).add(key)
        self._bytes += entry.size
        while self._bytes > self.max_bytes and self._entries:
            self._drop(next(iter(self._entries)))
        return True

    def _bump(self, instance_id: int) -> None:
        self._generation[instance_id] = self._generation.get(instance_id, 0) + 1

    def _drop(self, key: K) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self._bytes -= entry.size
        keys = self._by_instance.get(key[0])
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_instance[key[0]]
