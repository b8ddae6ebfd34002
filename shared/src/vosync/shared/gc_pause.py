"""Pause Python's cyclic garbage collector while a large reply is decoded and used.

A 10,000-gateway reply decodes into ~1.3 million dicts, lists and strings. While they are alive, a
full collection scans all of them (0.1-0.3 s each, measured in the writer), and decoding them
triggers one. They hold no reference cycles, so reference counting frees them when the batch is
done; the collector has nothing to find in them. Pausing it around that work removes the pauses;
cycles made meanwhile are collected once it runs again.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic collection inside the block (nestable; a collector already off stays off)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
