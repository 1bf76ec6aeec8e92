"""`bench/server_cost.py` without valgrind: its client and its reading of the shadow's counts,
against a real `tokensmith serve` with the benchmark's candidate at sample 1.0."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ..support.bench_scripts import bench_module

pytestmark = pytest.mark.slow


def test_every_request_is_issued_and_the_tightened_candidate_decides_each_the_same(
    tmp_path: Path,
) -> None:
    bench = bench_module("server_cost")
    keys = bench.Keys.fresh()
    env = {**os.environ, **keys.env()}
    bench.compile_bundles(tmp_path, keys)
    body = bench.form_body(bench.subject_token(keys, "HS256"), "hs-service")
    shadow = ["--shadow", str(tmp_path / "candidate"), "--shadow-sample", "1.0"]
    totals, counts = bench.serve_and_count(tmp_path, env, body, 48, shadow, under=[],
                                           seconds=60)
    # not under valgrind: no instruction count, but the server answered all 48 with a token
    # (serve_and_count refuses a run with any other answer) and stopped on SIGTERM
    assert totals == {"instructions": 0}
    # the candidate differs from the live bundle (a tightened requirement the token meets), so
    # each decision ran in full, and each is `same`
    assert counts["same"] == 48
    assert sum(counts.values()) == 48
