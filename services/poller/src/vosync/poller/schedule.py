"""When the scheduled runs of one (instance, API) key happen.

The first run waits a per-key phase in [0, min(interval, 10 s)) derived from a hash of the key, so
500 instances that start together fire spread out, not at once — yet a new instance (or a fresh
start) has all its data within seconds, not after a whole config interval. Every later run is
scheduled from the END of the previous one (so runs of one key never overlap and a slow VOS is not
asked faster than it answers), `interval · (1 ± jitter)` later, so keys do not lock into step.
"""

from __future__ import annotations

import hashlib
import random


def phase_fraction(instance_id: int, api_name: str) -> float:
    """A stable fraction in [0, 1) for the key (the same on every poller and after a restart)."""
    digest = hashlib.blake2b(f"{instance_id}:{api_name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


FIRST_RUN_WINDOW_S = 10.0


def first_delay(instance_id: int, api_name: str, interval_s: float) -> float:
    return phase_fraction(instance_id, api_name) * min(interval_s, FIRST_RUN_WINDOW_S)


def next_delay(interval_s: float, jitter: float, rng: random.Random | None = None) -> float:
    """The pause after a run ends: the interval, stretched or shrunk by up to `jitter` of itself."""
    spread = (rng or random).uniform(-jitter, jitter)
    return interval_s * (1.0 + spread)
