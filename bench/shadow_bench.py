"""Throughput and p99 of `POST /tokens` with a shadow candidate, against the same server without.

    python bench/shadow_bench.py [--duration S] [--repeat R] [--pin] [--json FILE]

One worker, HS256 in / HS256 out (the scenario of `bench/http_bench.py`), served three ways in
the same run by three servers started side by side: without a shadow, with `--shadow
CANDIDATE --shadow-sample 1.0` and with `--shadow-sample 0.1`. They take turns under wrk for
`--repeat` rounds (the order rotates each round), so that a change in the host's load hits all
three alike; each ratio is the median of the per-round ratios. The candidate is the live config
with one identity provider requirement tightened (`$.email` must end in `@example.com`, which
the benchmark's token meets), so it is a different bundle and every sampled decision really runs
the candidate's requirement checks and mappings and is compared (`same` each time). The
figures are req/s and p99 latency from wrk, and their ratios to the run without a shadow; the
targets are req/s at sample 1.0 >= 85% and at sample 0.1 >= 95% of the run without.

With `--pin` the servers run on the first CPU and wrk, with one thread, on the second
(`taskset`), so that the load generator and the server under test stop taking turns on the
same core: on a small shared host that steadies the per-round ratios.

It reuses `http_bench.py`'s keys, config, compile, server and wrk helpers; the default
`http_bench.py` run does not include it. Like `http_bench.py` it needs wrk and a quiet machine
for figures worth quoting; with `--duration 2` it is a quick check that it runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from http_bench import (
    SERVE,
    Keys,
    Load,
    Server,
    _measured,
    compile_bundle,
    config_yaml,
    form_body,
    subject_token,
    wrk,
)

#: Added to the `hs` identity provider of the live config: what makes the candidate different.
TIGHTENED = "    require:\n      $.email: {glob: \"*@example.com\"}\n"


def candidate_yaml(live: str) -> str:
    """The live config with the `hs` provider's requirement tightened."""
    anchor = "    secret: {env: BENCH_HS_SECRET}\n    algorithms: [HS256]\n"
    if anchor not in live:
        raise SystemExit("the benchmark config changed: update shadow_bench.candidate_yaml")
    return live.replace(anchor, anchor + TIGHTENED, 1)


def shadow_counts(url: str, timeout: float = 5) -> dict[str, float]:
    """`tokensmith_shadow_decisions_total` by result, from the server's `/metrics` (the results
    counted at least once)."""
    counts: dict[str, float] = {}
    for line in httpx.get(url + "/metrics", timeout=timeout).text.splitlines():
        if line.startswith("tokensmith_shadow_decisions_total{"):
            name, value = line.rsplit(" ", 1)
            counts[name.split('"')[1]] = float(value)
    return {name: value for name, value in counts.items() if value}


def scenarios(work: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    """The three servers side by side, taking turns under wrk round after round (the order
    rotates each round), so that all three meet the same moments of a noisy host; per server
    the run with the median req/s is kept, and the ratio to the server without a shadow is the
    median of the per-round ratios."""
    keys = Keys.fresh()
    env = keys.env()
    live_yaml = config_yaml(keys, 0, with_asymmetric=False)
    live = compile_bundle(work, "live", live_yaml)
    candidate = compile_bundle(work, "candidate", candidate_yaml(live_yaml))
    body = form_body(subject_token(keys, "HS256"), "hs-service")
    configs: list[tuple[str, list[str]]] = [("no shadow", [])]
    configs += [(f"shadow {sample}", ["--shadow", str(candidate), "--shadow-sample", sample])
                for sample in args.samples]
    # `--pin`: the servers on the first core, wrk (one thread) on the second
    pins = (["taskset", "-c", "0"], ["taskset", "-c", "1"]) if args.pin else ([], [])
    threads = 1 if args.pin else args.threads
    servers: dict[str, Server] = {}
    runs: dict[str, list[tuple[Load, float]]] = {label: [] for label, _ in configs}
    counts: dict[str, dict[str, float]] = {}
    try:
        for label, extra in configs:
            servers[label] = Server([*pins[0], *SERVE, str(live), *extra], env, "/readyz", 1)
        labels = [label for label, _ in configs]
        for number in range(args.repeat):
            turn = number % len(labels)
            for label in labels[turn:] + labels[:turn]:
                server = servers[label]
                runs[label].append(_measured(
                    server, server.url + "/tokens", body,
                    lambda url, b: wrk(url, b, args.duration, threads, args.connections,
                                       work, pins[1])))
        counts = {label: shadow_counts(servers[label].url) for label, extra in configs if extra}
    finally:
        for server in servers.values():
            server.stop()
    rows: list[dict[str, Any]] = []
    base_rps = [run[0].rps for run in runs["no shadow"]]
    for label, _ in configs:
        figures, cpu_us = sorted(runs[label], key=lambda run: run[0].rps)[len(runs[label]) // 2]
        ratio = statistics.median(run[0].rps / base for run, base in zip(runs[label], base_rps,
                                                                            strict=True))
        rows.append({"scenario": label, **vars(figures), "server_cpu_us_per_request": cpu_us,
                     "rps_runs": [round(run[0].rps) for run in runs[label]],
                     "ratio_to_no_shadow": round(ratio, 3), "shadow": counts.get(label, {})})
        print(f"  {label:<11}: {figures.rps:9.0f} req/s  p50 {figures.p50_ms:6.2f} ms  "
              f"p99 {figures.p99_ms:6.2f} ms  non-2xx {figures.bad}  "
              f"runs {rows[-1]['rps_runs']}  {counts.get(label) or ''}", flush=True)
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    base = rows[0]
    print("\n| HS256, 1 worker | req/s | p99 ms | req/s vs no shadow (median of rounds) "
          "| p99 vs no shadow | server CPU µs/req | shadow decisions |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['scenario']} | {r['rps']:.0f} | {r['p99_ms']:.2f} | "
              f"{r['ratio_to_no_shadow']:.0%} | {r['p99_ms'] / base['p99_ms']:.2f}x | "
              f"{r['server_cpu_us_per_request']:.0f} | {r['shadow'] or ''} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds: wrk runs per server, in turns; the median is kept")
    parser.add_argument("--samples", nargs="+", default=["1.0", "0.1"],
                        help="the --shadow-sample values to serve beside the server without")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--pin", action="store_true",
                        help="servers on CPU 0, wrk with one thread on CPU 1 (taskset): the two "
                             "stop competing for a core, which steadies the ratios on a small host")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="tokensmith-shadow-bench-") as tmp:
        rows = scenarios(Path(tmp), args)
    print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
