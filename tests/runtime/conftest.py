"""Shared fixtures of the runtime tests: one real server per module, a client for it, and
empty process-global caches for every test (`runtime.caches.reset_all`).

A module that needs another config overrides `world` (see `test_http_surface.py`).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tokensmith.runtime import caches
from tokensmith.runtime.app import create_app

from ..support.http_server import RunningServer, World, running


@pytest.fixture(scope="module")
def world() -> World:
    return World()


@pytest.fixture(scope="module")
def server(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    runtime = world.runtime(tmp_path_factory.mktemp("bundle") / "b")
    with running(create_app(runtime)) as srv:
        yield srv


@pytest.fixture()
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    """Every test starts with the runtime's process-global caches empty (and leaves them so)."""
    caches.reset_all()
    yield
    caches.reset_all()
