"""What verifying a bundle's signatures adds to start-up (issue 12's judgement).

Compiles the `check_scale.py` config (N identity providers and N token providers) through the
real CLI, signs a copy with one key of each algorithm, then, in this process, times
`load_bundle` without trust (today's start-up) and with trust (what `serve --trust` does), best
of `--repeat` runs each, and, alone, the work trust adds (reading the trusted key and judging the
signature), best of at least 20 runs: on a busy machine the difference of two multi-second
loads is noise, the verification alone is not.

    python bench/signing_startup.py --sizes 1 10000 --repeat 5
"""

from __future__ import annotations

import argparse
import json
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

from tokensmith.runtime.bundle import MANIFEST, SIGNATURES, load_bundle
from tokensmith.runtime.bundle_keys import load_trust
from tokensmith.runtime.bundle_signatures import Trust, check_signatures

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


def verification(bundle: Path, public: str) -> Callable[[], object]:
    """Exactly what trust adds to a load: reading the trusted keys, judging every signature."""
    manifest = (bundle / MANIFEST).read_bytes()
    signatures = (bundle / SIGNATURES).read_bytes()
    revision = json.loads(manifest)["revision"]

    def work() -> object:
        trust = Trust(load_trust([public]))
        return check_signatures(revision, manifest, signatures, trust, time.time())

    return work


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'N':>6} {'signer':>7} {'load ms':>10} {'load + trust ms':>16} {'verification ms':>16}")
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
                public = f"{prefix}.pub"
                whole = best(args.repeat, lambda out=out, public=public: load_bundle(
                    str(out), Trust(load_trust([public]))))
                alone = best(max(args.repeat, 20), verification(out, public))
                print(f"{n:>6} {alg:>7} {plain * 1e3:>10.1f} {whole * 1e3:>16.1f}"
                      f" {alone * 1e3:>16.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
