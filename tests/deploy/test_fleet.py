"""bench/fleet.py, the rolling replacement of a fleet behind haproxy under wrk's load, run
quickly with `tokensmith serve` processes as the replicas (`--processes`; the same run with
containers of the image is a benchmark, see docs/deploy.md): no request fails, the answers move
from the old revision to the new one, and every old replica exits 0 after its drain. Both
revisions are signed by a key made for the run and every replica trusts that key alone: each
names it as its signer in /readyz, and a new revision that is unsigned or edited after signing
is refused by its replica, so the rollout halts and the fleet keeps answering with the old one."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ._support import ROOT

pytestmark = pytest.mark.slow

KID = re.compile(r"[A-Za-z0-9_-]{43}")  # an Ed25519 key's RFC 7638 thumbprint, base64url


def run_fleet(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str],
                                                     dict[str, Any]]:
    for tool in ("haproxy", "wrk"):
        assert shutil.which(tool), f"{tool} is missing: .ci/run installs it (apt-get)"
    out = tmp_path / "fleet.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "fleet.py"), "--processes", "--replicas", "3",
         "--drain-seconds", "2", "--connections", "4", "--json", str(out), *extra],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert out.exists(), done.stdout + done.stderr
    return done, json.loads(out.read_text())


def test_a_rolling_replacement_under_load_fails_no_request(tmp_path: Path) -> None:
    done, report = run_fleet(tmp_path, "--steady-seconds", "3")
    assert done.returncode == 0, done.stdout + done.stderr
    old, new = report["revisions"]["old"], report["revisions"]["new"]
    assert old != new
    assert report["signed"] is True and KID.fullmatch(report["signer"]), report
    assert report["signer"] in done.stdout
    # every replica, the three old ones and their three replacements, served its revision
    # signed by the run's key, as its /readyz said once ready
    readyz = report["readyz"]
    assert sorted(r["revision"] for r in readyz) == [old] * 3 + [new] * 3, readyz
    for replica in readyz:
        assert replica["signed"] is True and replica["signers"] == [report["signer"]], replica
    assert report["rollout"]["completed"] is True
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


@pytest.mark.parametrize("flaw", ["tampered", "unsigned"])
def test_a_revision_its_replicas_refuse_halts_the_rollout(tmp_path: Path, flaw: str) -> None:
    """The new revision signed, then edited with its manifest rewritten to match (what one who
    can write the bundle but lacks the key can do), or stripped of its signature."""
    done, report = run_fleet(tmp_path, "--steady-seconds", "1", "--new-revision-flaw", flaw)
    assert done.returncode == 1, done.stdout + done.stderr
    old, new = report["revisions"]["old"], report["revisions"]["new"]
    assert old != new
    rollout = report["rollout"]
    assert rollout["completed"] is False
    # the first replacement refused to start, said why, and no other slot was touched
    [step] = rollout["steps"]
    assert step["slot"] == 1 and step["rolled_back_to_old"] is True
    refused = step["refused"]
    assert refused["exit_code"] == 1 and not refused["traceback"], refused
    why = "signs another bundle" if flaw == "tampered" else "the bundle is not signed"
    assert why in refused["reason"] and why in rollout["halted"], rollout
    assert "rollout halted" in done.stdout and "REFUSED" in done.stdout
    # nothing was answered by the refused revision; the fleet kept serving the old one
    assert report["failed"] == 0, report
    timeline = report["timeline"]
    assert sum(row["old"] for row in timeline) == rollout["requests"] > 0
    assert all(row["new"] == 0 and row["other"] == 0 and row["non_200"] == 0
               for row in timeline), timeline
    # and every replica that got ready is an old, signed one: three, and the slot's stand-in
    readyz = report["readyz"]
    assert [r["revision"] for r in readyz] == [old] * 4, readyz
    assert all(r["signers"] == [report["signer"]] for r in readyz), readyz
