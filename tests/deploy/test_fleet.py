"""bench/fleet.py, the rolling replacement of a fleet behind haproxy under wrk's load, run
quickly with `tokensmith serve` processes as the replicas (`--processes`; the same run with
containers of the image is a benchmark, see docs/deploy.md): no request fails, the answers move
from the old revision to the new one, and every old replica exits 0 after its drain."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ._support import ROOT

pytestmark = pytest.mark.slow


def test_a_rolling_replacement_under_load_fails_no_request(tmp_path: Path) -> None:
    for tool in ("haproxy", "wrk"):
        assert shutil.which(tool), f"{tool} is missing: .ci/run installs it (apt-get)"
    out = tmp_path / "fleet.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "fleet.py"), "--processes", "--replicas", "3",
         "--steady-seconds", "3", "--drain-seconds", "2", "--connections", "4",
         "--json", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text())
    old, new = report["revisions"]["old"], report["revisions"]["new"]
    assert old != new
    assert report["failed"] == 0, report
    assert report["rollout"]["errors"] == dict.fromkeys(
        ("connect", "read", "write", "status", "timeout"), 0)
    assert report["sent"] > 500
    steps = report["rollout"]["steps"]
    assert [step["slot"] for step in steps] == [1, 2, 3]
    for step in steps:
        assert step["old_exit_code"] == 0 and not step["old_traceback"], step
        # it drained: still running well after haproxy saw its replacement up
        assert step["old_exited"] >= step["sigterm"] + 2
    timeline = report["timeline"]
    assert all(row["non_200"] == 0 and row["other"] == 0 for row in timeline)
    # old only at first, new only at the end, both in between
    assert timeline[0]["old"] > 0 and timeline[0]["new"] == 0
    assert timeline[-2]["new"] > 0 and timeline[-2]["old"] == 0
    assert any(row["old"] and row["new"] for row in timeline)
    assert "requests sent" in done.stdout
