"""Instance ownership through leases in the KV bucket `vosync_leases`.

Keys: `instance.<id>` → the owner's poller id (a lease); `poller.<id>` → a heartbeat
`{"poller_id": …, "pinned": [ids] | null}` telling the others this poller is alive, plus what the
poller service adds (`vos`: its view of the instances it polls, vosync.shared.heartbeat). Every key
expires with the bucket's max age (the lease TTL) unless rewritten.

- acquire: `create` (succeeds only when nobody holds the key);
- renew: `update(last=revision)` every TTL/3 — a compare-and-set, so a poller whose lease expired and
  was taken by another cannot renew it; the new revision is the fencing token on every FetchResult;
- release: `delete(last=revision)` when giving an instance up and on graceful shutdown;
- self-fencing: a lease not renewed within 0.9 · TTL of the last successful write is dropped locally
  (NATS unreachable), so a cut-off poller stops polling before another may take over;
- sweep: every few seconds the whole bucket is read (max-age expiry is invisible to watchers), lost
  leases are dropped at once, and ownership is rebalanced (see ownership.plan).

All bucket writes happen in one task, so a renewal never races a release of the same key.
The bucket is nats-py's KeyValue (from `broker.key_value(..., declare=False)`): FastStream has no
compare-and-set of its own, so create / update(last=) / delete(last=) are nats-py calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nats.errors import Error as NatsError
from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from vosync.poller.ownership import plan
from vosync.shared.bus import heartbeat_key, lease_key
from vosync.shared.kv import snapshot
from vosync.shared.tasks import cancel_and_wait

log = logging.getLogger(__name__)

LEASE_PREFIX = "instance."
HEARTBEAT_PREFIX = "poller."
FENCE_FRACTION = 0.9

_KV_ERRORS = (NatsError, TimeoutError, OSError)


@dataclass(slots=True)
class Lease:
    revision: int
    written_at: float  # monotonic time the last successful write was SENT (the server wrote it later)


def sweep_interval(ttl_s: float) -> float:
    """A tenth of the TTL (1.5 s for the default 15 s), so a dead poller's instances are taken
    over soon after its leases expire; within [0.25, 3] s."""
    return min(3.0, max(0.25, ttl_s / 10))


def parse_heartbeat(key: str, value: bytes | None) -> tuple[str, list[int] | None]:
    """(poller id, pinned instances or None); an unreadable heartbeat counts as a balancing poller."""
    fallback = key.removeprefix(HEARTBEAT_PREFIX)
    try:
        data = json.loads(value or b"")
        poller_id = str(data["poller_id"])
        pinned = data.get("pinned")
        return poller_id, [int(i) for i in pinned] if pinned is not None else None
    except (ValueError, TypeError, KeyError):
        return fallback, None


# Called with (instance id, lease revision) / (instance id, reason: released | lost | expired).
Acquired = Callable[[int, int], None]
Released = Callable[[int, str], None]


class LeaseManager:
    def __init__(
        self,
        kv: KeyValue,
        *,
        poller_id: str,
        ttl_s: float,
        enabled_ids: Callable[[], set[int]],
        on_acquired: Acquired,
        on_released: Released,
        pinned: Sequence[int] | None = None,
        heartbeat_extra: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self._kv = kv
        self._heartbeat_extra = heartbeat_extra
        self._heartbeat_due = False
        self.poller_id = poller_id
        self.ttl_s = ttl_s
        self._pinned = list(pinned) if pinned is not None else None
        self._enabled_ids = enabled_ids
        self._on_acquired = on_acquired
        self._on_released = on_released
        self._owned: dict[int, Lease] = {}
        self._release_requests: set[int] = set()
        self._poke = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._op_timeout_s = min(5.0, ttl_s / 3)
        self.sweep_s = sweep_interval(ttl_s)
        self.last_sweep_ok = False
        self._closing = False

    # -- reading ---------------------------------------------------------------------------------
    def revision(self, instance_id: int) -> int | None:
        lease = self._owned.get(instance_id)
        return lease.revision if lease else None

    def owned_ids(self) -> set[int]:
        return set(self._owned)

    # -- control ---------------------------------------------------------------------------------
    async def start(self) -> None:
        await self._heartbeat()
        with contextlib.suppress(*_KV_ERRORS):
            await self._sweep()
        self._task = asyncio.create_task(self._loop(), name="leases")

    def poke(self) -> None:
        """Sweep now (an instance appeared, changed or went away)."""
        self._poke.set()

    def heartbeat_soon(self) -> None:
        """Write the heartbeat at the next loop turn (what it reports changed), not only every TTL/3."""
        self._heartbeat_due = True
        self.poke()

    def request_release(self, instance_id: int) -> None:
        if instance_id in self._owned:
            self._release_requests.add(instance_id)
            self.poke()

    async def stop(self) -> None:
        """Release every lease and the heartbeat, so others take over without waiting for the TTL."""
        await self._stop_loop()
        await asyncio.gather(*(self._release(i, "released") for i in list(self._owned)))
        with contextlib.suppress(*_KV_ERRORS):
            async with asyncio.timeout(self._op_timeout_s):
                await self._kv.delete(heartbeat_key(self.poller_id))

    async def _stop_loop(self) -> None:
        self._closing = True
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None

    # -- the loop ----------------------------------------------------------------------------------
    async def _loop(self) -> None:
        renew_every = self.ttl_s / 3
        next_renew = time.monotonic() + renew_every
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.sweep_s):
                    await self._poke.wait()
            self._poke.clear()
            if self._closing:
                return
            if time.monotonic() >= next_renew:
                next_renew = time.monotonic() + renew_every
                await self._heartbeat()
                await self._renew_all()
            elif self._heartbeat_due:
                await self._heartbeat()
            self._fence()
            for instance_id in sorted(self._release_requests):
                await self._release(instance_id, "released")
            self._release_requests.clear()
            try:
                await self._sweep()
                self.last_sweep_ok = True
            except _KV_ERRORS as exc:
                if self.last_sweep_ok:
                    log.warning("lease sweep failed", extra={"error": repr(exc)})
                self.last_sweep_ok = False

    async def _heartbeat(self) -> None:
        self._heartbeat_due = False
        data: dict[str, Any] = {"poller_id": self.poller_id, "pinned": self._pinned}
        if self._heartbeat_extra is not None:
            data.update(self._heartbeat_extra())
        value = json.dumps(data).encode()
        with contextlib.suppress(*_KV_ERRORS):
            async with asyncio.timeout(self._op_timeout_s):
                await self._kv.put(heartbeat_key(self.poller_id), value)

    async def _renew_all(self) -> None:
        await asyncio.gather(*(self._renew(i) for i in list(self._owned)))

    async def _renew(self, instance_id: int) -> None:
        lease = self._owned.get(instance_id)
        if lease is None:
            return
        sent = time.monotonic()
        try:
            async with asyncio.timeout(self._op_timeout_s):
                revision = await self._kv.update(
                    lease_key(instance_id), self.poller_id.encode(), last=lease.revision
                )
        except KeyWrongLastSequenceError:
            self._lose(instance_id, "lost")
            return
        except _KV_ERRORS:
            return  # NATS unreachable: the fence decides when to give up
        if self._owned.get(instance_id) is lease:
            lease.revision, lease.written_at = revision, sent

    def _fence(self) -> None:
        deadline = self.ttl_s * FENCE_FRACTION
        now = time.monotonic()
        for instance_id, lease in list(self._owned.items()):
            if now - lease.written_at >= deadline:
                self._lose(instance_id, "expired")

    async def _sweep(self) -> None:
        entries = await snapshot(self._kv, timeout_s=self._op_timeout_s)
        owners: dict[int, tuple[str, int]] = {}
        pollers: dict[str, list[int] | None] = {}
        for key, entry in entries.items():
            if key.startswith(LEASE_PREFIX):
                with contextlib.suppress(ValueError):
                    owners[int(key.removeprefix(LEASE_PREFIX))] = (
                        (entry.value or b"").decode("utf-8", "replace"),
                        entry.revision or 0,
                    )
            elif key.startswith(HEARTBEAT_PREFIX):
                poller_id, pinned = parse_heartbeat(key, entry.value)
                pollers[poller_id] = pinned
        pollers[self.poller_id] = self._pinned

        for instance_id, lease in list(self._owned.items()):
            owner = owners.get(instance_id)
            if owner is None or (owner[1] != lease.revision and owner[0] != self.poller_id):
                self._lose(instance_id, "lost")
            elif owner[1] > lease.revision:
                lease.revision = owner[1]  # a renewal whose ack we missed did land
        for instance_id, (owner_id, revision) in owners.items():
            if owner_id == self.poller_id and instance_id not in self._owned:
                await self._adopt(instance_id, revision)  # a create of ours whose ack we missed

        decision = plan(
            self.poller_id,
            enabled=self._enabled_ids(),
            lease_owners={i: o for i, (o, _) in owners.items()},
            owned=set(self._owned),
            pollers=pollers,
            pinned=self._pinned,
        )
        for instance_id in decision.release:
            await self._release(instance_id, "released")
        for instance_id in decision.acquire:
            await self._acquire(instance_id)

    # -- single-key operations -----------------------------------------------------------------
    async def _acquire(self, instance_id: int) -> None:
        sent = time.monotonic()
        try:
            async with asyncio.timeout(self._op_timeout_s):
                revision = await self._kv.create(lease_key(instance_id), self.poller_id.encode())
        except KeyWrongLastSequenceError:
            return  # another poller was quicker
        except _KV_ERRORS as exc:
            log.warning("lease create failed", extra={"instance_id": instance_id, "error": repr(exc)})
            return
        self._gain(instance_id, Lease(revision, sent))

    async def _adopt(self, instance_id: int, revision: int) -> None:
        sent = time.monotonic()
        try:
            async with asyncio.timeout(self._op_timeout_s):
                new_revision = await self._kv.update(
                    lease_key(instance_id), self.poller_id.encode(), last=revision
                )
        except (KeyWrongLastSequenceError, *_KV_ERRORS):
            return
        self._gain(instance_id, Lease(new_revision, sent))

    def _gain(self, instance_id: int, lease: Lease) -> None:
        self._owned[instance_id] = lease
        log.info(
            "lease acquired",
            extra={"instance_id": instance_id, "revision": lease.revision, "owned": len(self._owned)},
        )
        self._on_acquired(instance_id, lease.revision)

    def _lose(self, instance_id: int, reason: str) -> None:
        lease = self._owned.pop(instance_id, None)
        if lease is None:
            return
        log.warning(
            "lease lost", extra={"instance_id": instance_id, "reason": reason, "owned": len(self._owned)}
        )
        self._on_released(instance_id, reason)

    async def _release(self, instance_id: int, reason: str) -> None:
        lease = self._owned.pop(instance_id, None)
        if lease is None:
            return
        self._on_released(instance_id, reason)  # stop polling before anyone else can take over
        log.info(
            "lease released", extra={"instance_id": instance_id, "reason": reason, "owned": len(self._owned)}
        )
        with contextlib.suppress(KeyWrongLastSequenceError, *_KV_ERRORS):
            async with asyncio.timeout(self._op_timeout_s):
                await self._kv.delete(lease_key(instance_id), last=lease.revision)
