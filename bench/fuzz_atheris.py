"""Run every atheris target of `fuzz/targets.py` for a given time; report executions and coverage.

    python bench/fuzz_atheris.py [--seconds 60] [--targets strict_json,config]

Each target runs in its own process (`fuzz/run_atheris.py`, libFuzzer) on a temporary copy of
its corpus in `fuzz/corpus/<target>/`, so the repository's corpus only grows by hand: a crash
input (`crash-*`, kept in the printed directory) belongs there with its fix. Prints one JSON
object per target: executions, executions per second, libFuzzer's coverage (`cov`, edges) and
features (`ft`), corpus entries at the end, and crashes (there should be none).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FUZZ = ROOT / "fuzz"
DONE = re.compile(r"#(\d+)\s+DONE\s+cov: (\d+) ft: (\d+) corp: (\d+)")


def run_target(target: str, seconds: int, work: Path) -> dict[str, Any]:
    corpus = work / target
    shutil.copytree(FUZZ / "corpus" / target, corpus)
    done = subprocess.run(
        [sys.executable, str(FUZZ / "run_atheris.py"), target, f"-max_total_time={seconds}",
         "-rss_limit_mb=1024", "-timeout=10", str(corpus)],
        capture_output=True, text=True, cwd=work, timeout=seconds + 120, check=False,
    )
    stats = DONE.search(done.stderr)
    crashes = sorted(p.name for p in work.glob("crash-*")) + sorted(
        p.name for p in work.glob("timeout-*"))
    runs = int(stats.group(1)) if stats else 0
    return {
        "target": target,
        "seconds": seconds,
        "executions": runs,
        "per_second": round(runs / seconds),
        "cov": int(stats.group(2)) if stats else None,
        "ft": int(stats.group(3)) if stats else None,
        "corpus_entries": int(stats.group(4)) if stats else None,
        "crashes": crashes,
        "exit_status": done.returncode,
        "tail": [] if stats and done.returncode == 0 else done.stderr.splitlines()[-15:],
    }


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(FUZZ))
    from targets import TARGETS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--targets", default=",".join(TARGETS))
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="tokensmith-atheris-"))
    results = [run_target(t, args.seconds, work) for t in args.targets.split(",")]
    print(json.dumps({"work_directory": str(work), "targets": results}, indent=2))
    return 1 if any(r["crashes"] or r["exit_status"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
