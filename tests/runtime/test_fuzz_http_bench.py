"""A short run of `bench/fuzz_http.py`: thousands of mutated requests over real HTTP to a real
`tokensmith serve`; no answer is a 5xx, every request is answered, and a good exchange is still
answered 200 at the end. The bench's default run sends a million.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.slow

BENCH = Path(__file__).parents[2] / "bench"


def fuzz_http() -> ModuleType:
    sys.path.insert(0, str(BENCH))  # it imports its sibling api_fuzz
    try:
        spec = importlib.util.spec_from_file_location("fuzz_http", BENCH / "fuzz_http.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up by name
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def test_thousands_of_hostile_requests_get_no_5xx_and_leave_the_server_answering() -> None:
    bench = fuzz_http()
    with bench.quickstart_server() as (url, good_token, pid):
        report = bench.run(url, good_token, pid, requests=4000, seconds=120, connections=4,
                           seed=7)
    assert report.sent == 4000  # none left unsent by the time bound
    assert sum(report.statuses.values()) == report.sent  # every request answered or closed
    assert report.server_errors == 0, report.as_json()
    assert report.statuses[0] == 0  # never a connection dropped without an answer
    # the mutations reach every kind of refusal, and some requests stay good
    assert {200, 400, 404, 405, 413, 415, 431} <= set(report.statuses)
    assert report.good_exchange_after == 200
