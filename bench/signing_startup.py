"""What verifying a bundle's signatures adds to start-up (issue 12's judgement).

Compiles the `check_scale.py` config (N identity providers and N token providers) through the
real CLI, signs a copy with one key of each algorithm, then, in this process, times
`load_bundle` without trust (today's start-up) and with trust (what `serve --trust` does:
reading the trusted keys and judging every signature before the bundle's code runs), best of
`--repeat` runs each.

    python bench/signing_startup.py --sizes 1 10000 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from check_scale import write_config

from tokensmith.runtime.bundle import load_bundle
from tokensmith.runtime.bundle_keys import load_trust
from tokensmith.runtime.bundle_signatures import Trust

ALGORITHMS = ("EdDSA", "ES256", "RS256")


def cli(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "tokensmith", *args], check=True,
                          capture_output=True, text=True)
    return done.stdout


def best(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'N':>6} {'signer':>7} {'unsigned load ms':>17} {'with trust ms':>14} {'added ms':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        keys = {alg: Path(tmp) / alg for alg in ALGORITHMS}
        for alg, prefix in keys.items():
            cli("keygen", "--algorithm", alg, "--out", str(prefix))
        for n in args.sizes:
            directory = Path(tmp) / f"config-{n}"
            directory.mkdir()
            config = write_config(directory, n, 1)
            unsigned = Path(tmp) / f"bundle-{n}"
            cli("compile", str(config), "-o", str(unsigned))
            plain = best(args.repeat, lambda unsigned=unsigned: load_bundle(str(unsigned)))
            for alg, prefix in keys.items():
                out = Path(tmp) / f"bundle-{n}-{alg}"
                shutil.copytree(unsigned, out)
                cli("sign", str(out), "--key", f"{prefix}.key")

                def trusted(out: Path = out, prefix: Path = prefix) -> object:
                    return load_bundle(str(out), Trust(load_trust([f"{prefix}.pub"])))

                signed = best(args.repeat, trusted)
                print(f"{n:>6} {alg:>7} {plain * 1e3:>17.2f} {signed * 1e3:>14.2f}"
                      f" {(signed - plain) * 1e3:>9.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
