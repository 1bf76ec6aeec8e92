"""Pause Python's cycle collector around bulk work that allocates much and leaves no cycles."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with the cycle collector off, restoring its previous state after.

    Loading and checking a config allocate hundreds of thousands of objects (nodes, locations,
    models) and create no cyclic garbage; with the collector on, its full passes over the
    growing heap made `check` time grow faster than the config (3.7x for twice the providers).
    Reference counting still frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
