"""How `tokensmith compile` and the runtime's bundle loader scale (issue 3's target).

Generates the same config as `check_scale.py` (N identity providers and N token providers),
runs the real CLI `tokensmith compile` on it, and loads the bundle with the runtime loader
(hash checks, config parsing, executing the generated mappings). Target: compiling the
1,000 + 1,000 config takes under 10 s on the 2-core machine.

    python bench/compile_scale.py --sizes 1000 2000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from check_scale import write_config

from tokensmith.runtime.bundle import load_bundle

TARGET_SECONDS = 10.0


def time_compile(config: Path, out: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "tokensmith", "compile", str(config), "-o", str(out)],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def time_load(out: Path) -> float:
    start = time.perf_counter()
    load_bundle(str(out))
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000])
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'N':>6} {'compile s':>10} {'bundle MB':>10} {'load s':>8}")
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            directory = Path(tmp) / f"config-{n}"
            directory.mkdir()
            config = write_config(directory, n, 1)
            out = Path(tmp) / f"bundle-{n}"
            seconds = time_compile(config, out)
            size = sum(p.stat().st_size for p in out.iterdir()) / 1e6
            print(f"{n:>6} {seconds:>10.2f} {size:>10.1f} {time_load(out):>8.2f}")
            failed |= n == 1000 and seconds >= TARGET_SECONDS
    print(f"target: N=1000 compiles in under {TARGET_SECONDS:.0f} s: {'missed' if failed else 'met'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
