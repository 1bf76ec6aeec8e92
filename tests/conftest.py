"""The marker discipline: a test that starts a server or a subprocess is marked `slow`.

`python -m pytest -m "not slow"` is the inner loop and must stay fast, so a test that is not
marked `slow` may not start a process (`subprocess.Popen`, which `subprocess.run` and asyncio's
subprocesses use), listen on a socket (every in-thread HTTP server, the JWKS test server) or
start uvicorn. Each of those is recorded while the tests run; a test that is not marked `slow`
fails when it, or a fixture it uses, did one of them, naming what was started. A fixture that
started something is remembered, so a test sharing a module-scoped server is caught too.
"""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Generator
from typing import Any

import pytest
import uvicorn

#: What the current test phase or fixture started ("subprocess ['git', ...]", "listen", ...).
_started: list[str] = []
_lock = threading.Lock()
#: Fixtures (their definitions: two modules may each have a `server`) whose set-up started
#: a server or a subprocess.
_starting_fixtures: set[pytest.FixtureDef[Any]] = set()


def _record(what: str) -> None:
    with _lock:
        _started.append(what)


def _install_tripwires() -> None:
    popen_init = subprocess.Popen.__init__
    listen = socket.socket.listen
    startup = uvicorn.Server.startup

    def recording_popen_init(self: subprocess.Popen[Any], args: Any, *rest: Any, **kw: Any) -> None:
        _record(f"a subprocess {str(args)[:80]}")
        popen_init(self, args, *rest, **kw)

    def recording_listen(self: socket.socket, *args: Any) -> None:
        _record("a listening socket")
        listen(self, *args)

    async def recording_startup(self: uvicorn.Server, *args: Any, **kw: Any) -> None:
        _record("uvicorn")
        await startup(self, *args, **kw)

    subprocess.Popen.__init__ = recording_popen_init  # type: ignore[method-assign]
    socket.socket.listen = recording_listen  # type: ignore[method-assign, assignment]
    uvicorn.Server.startup = recording_startup  # type: ignore[method-assign]


def pytest_configure(config: pytest.Config) -> None:
    _install_tripwires()


def _taken() -> list[str]:
    with _lock:
        taken = list(_started)
        _started.clear()
    return taken


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any]) -> Generator[None, Any, Any]:
    with _lock:
        before = len(_started)
    try:
        return (yield)
    finally:
        with _lock:
            if len(_started) > before:
                _starting_fixtures.add(fixturedef)


def _check(item: pytest.Item, started: list[str]) -> None:
    if item.get_closest_marker("slow") is not None:
        return
    info = getattr(item, "_fixtureinfo", None)
    used = info.name2fixturedefs.items() if info is not None else ()
    shared = sorted(name for name, defs in used if _starting_fixtures.intersection(defs))
    if started or shared:
        what = ", ".join(sorted(set(started)) + [f"fixture {name!r}" for name in shared])
        pytest.fail(
            f"{item.nodeid} starts {what} but is not marked @pytest.mark.slow", pytrace=False
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    _taken()
    yield
    _check(item, _taken())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    _taken()
    yield
    _check(item, _taken())
