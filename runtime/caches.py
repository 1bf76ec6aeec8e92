"""The runtime's process-global caches, and the one way to empty them all (for tests).

Each module that keeps one says so with a `clear_caches()` function; `reset_all` calls them
all. Every cache is bounded, holds only what any request may share, and may be emptied at any
moment: a miss only costs the work the entry saved. `docs/architecture.md` ("Process-global
caches") lists what each holds, its bound and why sharing it across requests is safe.
"""

from __future__ import annotations

from . import accesslog, errors, jose, request


def reset_all() -> None:
    """Empty every process-global cache of the runtime."""
    jose.clear_caches()
    accesslog.clear_caches()
    request.clear_caches()
    errors.clear_caches()
