"""`runtime.caches.reset_all` empties every process-global cache of the runtime, and every
`functools` cache in the runtime is one it knows about (a new one fails here until its module's
`clear_caches()` empties it and docs/architecture.md lists it)."""

from __future__ import annotations

import importlib
import pkgutil
import time
from typing import Any

import tokensmith.runtime as runtime_package
from tokensmith.runtime import accesslog, caches, errors, jose, request
from tokensmith.runtime.accesslog import RequestRecord
from tokensmith.runtime.b64 import b64url_encode


def _functools_caches() -> dict[str, Any]:
    """Every `lru_cache`/`cache` wrapper at the top level of a runtime module."""
    found = {}
    for info in pkgutil.iter_modules(runtime_package.__path__, "tokensmith.runtime."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if callable(getattr(value, "cache_info", None)) and value.__module__ == info.name:
                found[f"{info.name}.{name}"] = value
    return found


def _fill_every_cache() -> None:
    header = b64url_encode(b'{"alg":"HS256"}')
    jose.parse_compact(f"{header}.{b64url_encode(b'{}')}.c2ln")
    accesslog._sink.formatter.line(RequestRecord("r", "GET", "/healthz", 0, 200), "rev",
                                   time.time(), 1000)
    request.parse_form(b"grant_type=a%20b&audience=x+y")
    request.body_kind("application/json")
    errors.error_body(errors.InvalidRequest("token expired", "expired"))


def test_reset_all_empties_every_cache() -> None:
    _fill_every_cache()
    functools_caches = _functools_caches()
    assert set(functools_caches) == {
        "tokensmith.runtime.request.body_kind", "tokensmith.runtime.request._unquote_short",
        "tokensmith.runtime.errors._rendered",
    }
    assert all(cache.cache_info().currsize > 0 for cache in functools_caches.values())
    assert jose._checked_headers and len(accesslog._sink.formatter) > 0

    caches.reset_all()

    assert all(cache.cache_info().currsize == 0 for cache in functools_caches.values())
    assert not jose._checked_headers and len(accesslog._sink.formatter) == 0
