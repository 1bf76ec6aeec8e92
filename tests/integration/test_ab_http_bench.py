"""A short run of `bench/ab_http.py` with the same install on both sides: it compiles, serves
both side by side, takes turns under wrk, and reports every scenario and start-up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BENCH = Path(__file__).parents[2] / "bench"


def test_ab_http_reports_every_scenario_for_both_sides(tmp_path: Path) -> None:
    out = tmp_path / "ab.json"
    result = subprocess.run(
        [sys.executable, str(BENCH / "ab_http.py"), "--before", sys.executable,
         "--rounds", "1", "--duration", "1", "--warmup", "0", "--startup-rounds", "1",
         "--startup-providers", "20", "--json", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    for label in ("HS256 in, HS256 out", "RS256 in, HS256 out", "ES256 in, ES256 out",
                  "HS256, 2 workers"):
        figures = report[label]
        for side in ("before", "after"):
            assert len(figures["rps"][side]) == 1 and min(figures["rps"][side]) > 0
            assert figures["median_cpu_us"][side] > 0
        assert figures["median_ratio"] > 0
        assert label in result.stdout
    startup = report["start-up, 20 providers"]
    assert all(len(startup["wall_s"][side]) == 1 for side in ("before", "after"))
