"""A short run of `bench/fuzz_http.py`: thousands of mutated requests over real HTTP to a real
`tokensmith serve`; no answer is a 5xx, every request is answered, and a good exchange is still
answered 200 at the end. The bench's default run sends a million.
"""

from __future__ import annotations

import pytest

from ..support.bench_scripts import bench_module

pytestmark = pytest.mark.slow



def test_thousands_of_hostile_requests_get_no_5xx_and_leave_the_server_answering() -> None:
    bench = bench_module("fuzz_http")
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
