"""When the scheduled runs of one (instance, API) key happen.

The first run waits a per-key phase in [0, interval) derived from a hash of the key, so 500 instances
that start together fire spread over the interval, not at once. Every later run is scheduled from the
END of the previous one (so runs of one key never overlap and a slow VOS is not asked faster than it
answers), `interval · (1 ± jitter)` later, so keys do not lock into step.
"""

from __future__ import annotations

import hashlib
import random


def phase_fraction(instance_id: int, api_name: str) -> float:
    """A stable fraction in [0, 1) for the key (the same on every poller and after a restart)."""
    digest = hashlib.blake2b(f"{instance_id}:{api_name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def first_delay(instance_id: int, api_name: str, interval_s: float) -> float:
    return phase_fraction(instance_id, api_name) * interval_s


def next_delay(interval_s: float, jitter: float, rng: random.Random | None = None) -> float:
    """The pause after a run ends: the interval, stretched or shrunk by up to `jitter` of itself."""
    spread = (rng or random).uniform(-jitter, jitter)
    return interval_s * (1.0 + spread)
