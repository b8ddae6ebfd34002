"""Which instances a poller should take or give up, from one look at the leases bucket (pure logic).

Balancing pollers split the enabled instances that no live pinned poller claims: each aims at
ceil(M / N) of the M instances with N live balancing pollers, takes free ones (no lease) up to that,
and releases its surplus. Among free or surplus instances it prefers by rendezvous hashing, so pollers
that start together tend to reach for different instances and the same poller keeps the same ones.
A pinned poller (VOSYNC_POLLER_INSTANCES) takes exactly its instances whenever they are free.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Plan:
    acquire: list[int] = field(default_factory=list)
    release: list[int] = field(default_factory=list)
    target: int = 0


def preference(poller_id: str, instance_id: int) -> int:
    """Rendezvous weight: higher means this poller would rather own this instance."""
    digest = hashlib.blake2b(f"{poller_id}/{instance_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def plan(
    me: str,
    *,
    enabled: Set[int],
    lease_owners: Mapping[int, str],
    owned: Set[int],
    pollers: Mapping[str, Sequence[int] | None],
    pinned: Sequence[int] | None,
) -> Plan:
    """`lease_owners`: instance → poller id of every live lease; `owned`: the leases this process
    holds; `pollers`: live poller id → its pinned instances (None for a balancing poller)."""
    if pinned is not None:
        wanted = set(pinned) & set(enabled)
        free = sorted(i for i in wanted - set(owned) if i not in lease_owners)
        return Plan(acquire=free, release=sorted(set(owned) - wanted), target=len(wanted))

    pinned_elsewhere: set[int] = set()
    for poller_id, instances in pollers.items():
        if poller_id != me and instances is not None:
            pinned_elsewhere.update(instances)
    pool = set(enabled) - pinned_elsewhere
    balancers = {p for p, instances in pollers.items() if instances is None} | {me}
    target = math.ceil(len(pool) / len(balancers)) if pool else 0

    release = set(owned) - pool
    keep = sorted(set(owned) & pool, key=lambda i: preference(me, i), reverse=True)
    if len(keep) > target:
        release.update(keep[target:])
        keep = keep[:target]
    free = sorted(
        (i for i in pool if i not in lease_owners and i not in owned),
        key=lambda i: preference(me, i),
        reverse=True,
    )
    return Plan(acquire=free[: max(0, target - len(keep))], release=sorted(release), target=target)
