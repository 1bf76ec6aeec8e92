"""Before and after in one run: two installs of tokensmith served side by side, taking turns.

`http_bench.py` measures one tree; run twice, once per tree, the two runs meet different moments
of a shared host, and on a noisy one the same code moves by 20-30 % between runs. This script
compiles the same config with each install's own CLI, starts both servers at once, and sends
wrk's load to them in turns (before, after, after, before, ...) for `--rounds` rounds per
scenario, so that both see the same moments of the host. It reports, per scenario, the median
req/s of each side, the median of the per-round ratios (after / before: each ratio compares two
runs a few seconds apart) and the server CPU µs per request of each side; and start-up with
10,000 identity providers (process start to the first `/readyz` 200, wall and CPU), alternated
the same way.

    python bench/ab_http.py --before ../old-checkout/.venv/bin/python   # after: this interpreter
    python bench/ab_http.py --before OLD --after NEW --rounds 7 --duration 5 --json out.json

`--before` and `--after` are Python interpreters with the two versions installed (each tree's
own virtualenv); each compiles its own bundle. `--scenarios hs rs` picks scenarios;
`--shadow-sample F` serves both sides with `shadow_bench.py`'s candidate at that sample, to
measure a change of the shadow's cost; `--startup-rounds 0` skips start-up. Scenarios: HS256, RS256 and ES256 in and HS256
or ES256 out with one worker, HS256 with two workers. Servers listen on 127.0.0.1 and are
stopped by PID. The target for a change on the `/tokens` path: no scenario's median ratio
below 0.97.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_bench import Keys, Server, config_yaml, form_body, subject_token, wrk
from shadow_bench import candidate_yaml

SCENARIOS = {  # key: label, algorithm in, service, workers
    "hs": ("HS256 in, HS256 out", "HS256", "hs-service", 1),
    "rs": ("RS256 in, HS256 out", "RS256", "hs-service", 1),
    "es": ("ES256 in, ES256 out", "ES256", "es-service", 1),
    "hs2": ("HS256, 2 workers", "HS256", "hs-service", 2),
}
SIDES = ("before", "after")


def compile_with(python: str, config: Path, out: Path) -> Path:
    result = subprocess.run([python, "-m", "tokensmith", "compile", str(config), "-o", str(out)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{python}: compile failed:\n{result.stderr}")
    return out


@contextmanager
def both_servers(pythons: dict[str, str], bundles: dict[str, Path], env: dict[str, str],
                 workers: int, extra: dict[str, list[str]]) -> Iterator[dict[str, Server]]:
    with ExitStack() as stack:
        servers: dict[str, Server] = {}
        for side in SIDES:
            argv = [pythons[side], "-m", "tokensmith", "serve", str(bundles[side]), *extra[side]]
            servers[side] = Server(argv, env, "/readyz", workers)
            stack.callback(servers[side].stop)
        yield servers


def turns(rounds: int) -> Iterator[tuple[int, str]]:
    """before, after; after, before; ...: each side goes first in half the rounds."""
    for number in range(rounds):
        order = SIDES if number % 2 == 0 else SIDES[::-1]
        for side in order:
            yield number, side


def scenario(servers: dict[str, Server], body: str, args: argparse.Namespace,
             work: Path) -> dict[str, Any]:
    rps: dict[str, list[float]] = {side: [] for side in SIDES}
    cpu_us: dict[str, list[float]] = {side: [] for side in SIDES}
    for side in SIDES:  # a short warm-up each, not counted
        if args.warmup:
            wrk(servers[side].url + "/tokens", body, args.warmup, args.threads, args.connections,
                work)
    for _, side in turns(args.rounds):
        server = servers[side]
        cpu_before = server.cpu_seconds()
        load = wrk(server.url + "/tokens", body, args.duration, args.threads, args.connections,
                   work)
        if load.bad:
            raise SystemExit(f"{side}: {load.bad} non-2xx answers")
        rps[side].append(load.rps)
        cpu_us[side].append((server.cpu_seconds() - cpu_before) / max(load.requests, 1) * 1e6)
    ratios = [after / before for before, after in zip(rps["before"], rps["after"], strict=True)]
    return {
        "rps": {side: [round(r) for r in rps[side]] for side in SIDES},
        "median_rps": {side: round(statistics.median(rps[side])) for side in SIDES},
        "median_cpu_us": {side: round(statistics.median(cpu_us[side]), 1) for side in SIDES},
        "median_ratio": round(statistics.median(ratios), 3),
        "ratio_of_medians": round(statistics.median(rps["after"])
                                  / statistics.median(rps["before"]), 3),
    }


def startup(pythons: dict[str, str], bundles: dict[str, Path], env: dict[str, str],
            rounds: int) -> dict[str, Any]:
    wall: dict[str, list[float]] = {side: [] for side in SIDES}
    cpu: dict[str, list[float]] = {side: [] for side in SIDES}
    for _, side in turns(rounds):
        server = Server([pythons[side], "-m", "tokensmith", "serve", str(bundles[side])],
                        env, "/readyz")
        try:
            wall[side].append(server.startup)
            cpu[side].append(server.startup_cpu)
        finally:
            server.stop()
    return {
        "wall_s": {side: [round(w, 2) for w in wall[side]] for side in SIDES},
        "median_wall_s": {side: round(statistics.median(wall[side]), 2) for side in SIDES},
        "median_cpu_s": {side: round(statistics.median(cpu[side]), 2) for side in SIDES},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="Python with the old version installed")
    parser.add_argument("--after", default=sys.executable, help="Python with the new version")
    parser.add_argument("--rounds", type=int, default=5, help="turns per side and scenario")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of load before counting")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--startup-rounds", type=int, default=3)
    parser.add_argument("--startup-providers", type=int, default=10_000)
    parser.add_argument("--scenarios", nargs="+", choices=list(SCENARIOS),
                        default=list(SCENARIOS))
    parser.add_argument("--shadow-sample", metavar="F", default=None,
                        help="serve both sides with `--shadow` (shadow_bench.py's candidate, "
                             "compiled by each side) at this sample")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    pythons = {"before": args.before, "after": args.after}
    keys = Keys.fresh()
    env = keys.env()
    report: dict[str, Any] = {"rounds": args.rounds, "duration_s": args.duration}
    with tempfile.TemporaryDirectory(prefix="ab-http-") as tmp:
        work = Path(tmp)
        (work / "one.yaml").write_text(config_yaml(keys, 0, True), encoding="utf-8")
        (work / "big.yaml").write_text(config_yaml(keys, args.startup_providers, False),
                                       encoding="utf-8")
        one = {side: compile_with(pythons[side], work / "one.yaml", work / f"one-{side}")
               for side in SIDES}
        extra: dict[str, list[str]] = {side: [] for side in SIDES}
        if args.shadow_sample is not None:
            (work / "candidate.yaml").write_text(
                candidate_yaml(config_yaml(keys, 0, True)), encoding="utf-8")
            for side in SIDES:
                candidate = compile_with(pythons[side], work / "candidate.yaml",
                                         work / f"candidate-{side}")
                extra[side] = ["--shadow", str(candidate), "--shadow-sample", args.shadow_sample]
            report["shadow_sample"] = args.shadow_sample
        for key in args.scenarios:
            label, alg, service, workers = SCENARIOS[key]
            body = form_body(subject_token(keys, alg), service)
            with both_servers(pythons, one, env, workers, extra) as servers:
                figures = scenario(servers, body, args, work)
            report[label] = figures
            print(f"{label:<22} before {figures['median_rps']['before']:6d} req/s "
                  f"{figures['median_cpu_us']['before']:6.1f} µs  after "
                  f"{figures['median_rps']['after']:6d} req/s "
                  f"{figures['median_cpu_us']['after']:6.1f} µs  ratio "
                  f"{figures['median_ratio']:.3f}  (runs {figures['rps']})", flush=True)
        if not args.startup_rounds:
            return _write(report, args.json)
        big = {side: compile_with(pythons[side], work / "big.yaml", work / f"big-{side}")
               for side in SIDES}
        figures = startup(pythons, big, env, args.startup_rounds)
        report[f"start-up, {args.startup_providers} providers"] = figures
        print(f"start-up, {args.startup_providers:,} providers: before {figures['median_wall_s']['before']:.2f} s "
              f"({figures['median_cpu_s']['before']:.2f} s CPU), after "
              f"{figures['median_wall_s']['after']:.2f} s ({figures['median_cpu_s']['after']:.2f}"
              f" s CPU)", flush=True)
    return _write(report, args.json)


def _write(report: dict[str, Any], path: str | None) -> int:
    if path:
        Path(path).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
