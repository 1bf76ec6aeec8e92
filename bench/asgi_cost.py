"""In-process cost of the ASGI app per request, for before/after comparisons of the HTTP path.

Two steps, so that the same bundles and tokens serve every tree being compared:

    python bench/asgi_cost.py setup WORK            # compiles the bundles, writes the tokens
    python bench/asgi_cost.py run WORK [--requests N] [--repeat R] [--scenario NAME ...]
    python bench/asgi_cost.py callgrind WORK [--scenario NAME ...]   # instructions per request

`--shadow-sample F` (run, callgrind) serves `POST /tokens` with a shadow candidate deciding that
share of the exchanges (`serve --shadow`; the candidate is the same bundle, so every decision
is `same`): the cost of shadowing to the live path, the candidate's work included.

`run` starts the app's lifespan as uvicorn would (JWKS cache, `gc.freeze()`), sends the access
log to /dev/null as `tokensmith serve` does (buffered, formatted in batches), and drives
`POST /tokens` and the other routes through the whole app without the network: one request at a
time (`seq`: a batch of one) and 64 at once (`c64`: the cohort batching of a loaded server). It
prints microseconds per request, wall clock and CPU time of the process, each the best of
`--repeat` runs. It uses only `prepare` and `create_app`, so one copy of it measures any tree:
run it with each tree's interpreter.

On a shared machine both figures move with other jobs; instruction counts do not. For those,
`callgrind` runs each scenario under `valgrind --tool=callgrind` with `--requests 1000` and
with `3000` and divides the difference of the two totals by the difference of the requests
served (64 at a time for the `-c64` scenarios, so 1984), so that start-up cancels out; one
scenario takes about 40 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

SCENARIOS = (
    "hs-seq", "hs-c64", "rs-c64", "es-c64", "refused-c64", "cors-c64", "healthz-seq",
    "preflight-seq", "get-tokens-seq", "not-found-seq",
)


def setup(work: Path) -> None:
    sys.path.insert(0, str(HERE))
    import http_bench as hb

    work.mkdir(parents=True, exist_ok=True)
    keys = hb.Keys.fresh()
    text = hb.config_yaml(keys, 0, with_asymmetric=True)
    hb.compile_bundle(work, "plain", text)
    hb.compile_bundle(work, "cors", text + "cors: {allow_origins: [https://app.example]}\n")
    env = {k: v for k, v in keys.env().items() if k.startswith("BENCH_")}
    now = int(time.time())
    tokens = {alg: hb.subject_token(keys, alg) for alg in ("HS256", "RS256", "ES256")}
    (work / "inputs.json").write_text(json.dumps({
        "env": env, "made": now, "bodies": {
            "hs": hb.form_body(tokens["HS256"], "hs-service"),
            "rs": hb.form_body(tokens["RS256"], "hs-service"),
            "es": hb.form_body(tokens["ES256"], "es-service"),
            "refused": hb.form_body(tokens["HS256"][:-4] + "AAAA", "hs-service"),
        },
    }))
    print(f"bundles and tokens in {work} (the tokens expire in two hours)")


def _scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http", "method": method, "path": path, "raw_path": path.encode(),
        "query_string": b"", "http_version": "1.1", "scheme": "http", "root_path": "",
        "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1),
        "headers": [(b"host", b"bench"), (b"user-agent", b"bench/1"), *headers],
    }


def _request(name: str, bodies: dict[str, str]) -> tuple[dict[str, Any], bytes, int]:
    """The scope, the body and the expected status of a scenario."""
    kind = name.split("-")[0]
    if kind in ("hs", "rs", "es", "refused", "cors"):
        body = bodies["hs" if kind == "cors" else kind].encode()
        headers = [(b"content-type", b"application/x-www-form-urlencoded"),
                   (b"content-length", str(len(body)).encode())]
        if kind == "cors":
            headers.append((b"origin", b"https://app.example"))
        return _scope("POST", "/tokens", headers), body, 400 if kind == "refused" else 200
    if kind == "healthz":
        return _scope("GET", "/healthz", []), b"", 200
    if kind == "preflight":
        headers = [(b"origin", b"https://app.example"),
                   (b"access-control-request-method", b"POST")]
        return _scope("OPTIONS", "/tokens", headers), b"", 204
    if kind == "get":
        return _scope("GET", "/tokens", []), b"", 405
    return _scope("GET", "/nowhere", []), b"", 404


async def _lifespan(app: Any) -> Callable[[], Any]:
    """Start the app's lifespan; returns the coroutine function that stops it."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    started, stopped = asyncio.Event(), asyncio.Event()
    await inbox.put({"type": "lifespan.startup"})

    async def receive() -> dict[str, Any]:
        return await inbox.get()

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()
        elif message["type"] == "lifespan.shutdown.complete":
            stopped.set()
        elif message["type"].endswith("failed"):
            raise SystemExit(f"lifespan failed: {message}")

    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
    await started.wait()

    async def stop() -> None:
        await inbox.put({"type": "lifespan.shutdown"})
        await stopped.wait()
        await task

    return stop


async def _drive(app: Any, name: str, bodies: dict[str, str], requests: int,
                 warmup: int, repeat: int) -> tuple[float, float]:
    scope, body, expected = _request(name, bodies)
    width = 64 if name.endswith("c64") else 1

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] != expected:
            raise SystemExit(f"{name}: status {message['status']}, expected {expected}")

    async def one() -> None:
        await app(dict(scope), receive, send)

    async def run(n: int) -> tuple[float, float]:
        rounds = max(1, n // width)
        started, started_cpu = time.perf_counter_ns(), time.process_time_ns()
        for _ in range(rounds):
            if width == 1:
                await one()
            else:
                await asyncio.gather(*[one() for _ in range(width)])
        cpu = time.process_time_ns() - started_cpu
        return (time.perf_counter_ns() - started) / rounds / width / 1000, cpu / rounds / width / 1000

    await run(warmup)
    runs = [await run(requests) for _ in range(repeat)]
    return min(wall for wall, _ in runs), min(cpu for _, cpu in runs)


def run(work: Path, names: list[str], requests: int, warmup: int, repeat: int,
        shadow_sample: float | None = None) -> None:
    import uvloop

    from tokensmith.runtime import accesslog
    from tokensmith.runtime.app import create_app
    from tokensmith.runtime.startup import prepare

    inputs = json.loads((work / "inputs.json").read_text())
    env = {**os.environ, **inputs["env"]}
    # buffered, batched lines, as under `tokensmith serve` (which writes them to stderr)
    accesslog.configure(open(os.devnull, "wb", buffering=64 * 1024))  # noqa: SIM115
    shadow: Any = None
    if shadow_sample is not None:
        from tokensmith.runtime import shadow as shadow_module
        from tokensmith.runtime.startup import ShadowOptions

        # decide every sampled exchange, shedding none: the figure is the full cost (under
        # callgrind, 50 times slower, the time bounds would shed most decisions)
        shadow_module.TURN_BUDGET_SECONDS = shadow_module.MAX_AGE_SECONDS = float("inf")
        shadow_module.MAX_PENDING = 1 << 30
        shadow = ShadowOptions(str(work / "plain"), shadow_sample)
    apps = {
        bundle: create_app(
            prepare(str(work / bundle), env, **({"shadow": shadow} if shadow else {}))
        )
        for bundle in ("plain", "cors")
    }

    async def main() -> dict[str, tuple[float, float]]:
        stops = [await _lifespan(app) for app in apps.values()]
        figures = {}
        for name in names:
            app = apps["cors" if name.split("-")[0] in ("cors", "preflight") else "plain"]
            figures[name] = await _drive(app, name, inputs["bodies"], requests, warmup, repeat)
        for stop in stops:
            await stop()
        return figures

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        figures = runner.run(main())
    for name, (wall, cpu) in figures.items():
        print(f"{name:16s} {wall:8.2f} µs/request wall {cpu:8.2f} µs/request CPU")
    for bundle, app in apps.items():
        shadowing = getattr(getattr(app, "tokens", None), "shadow", None)
        if shadowing is not None and any(shadowing.counts.values()):
            counts = {k: v for k, v in shadowing.counts.items() if v}
            print(f"shadow decisions ({bundle}): {counts}", file=sys.stderr)


def callgrind(work: Path, names: list[str], shadow_sample: float | None = None) -> None:
    """Instructions per request of each scenario, counted by callgrind (see the docstring)."""
    for name in names:
        width = 64 if name.endswith("c64") else 1
        counts = {}
        for requests in (1000, 3000):
            argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                    sys.executable, __file__, "run", str(work), "--requests", str(requests),
                    "--warmup", "256", "--repeat", "1", "--scenario", name]
            if shadow_sample is not None:
                argv += ["--shadow-sample", str(shadow_sample)]
            out = subprocess.run(argv, capture_output=True, text=True, check=True,
                                 env={**os.environ, "PYTHONHASHSEED": "0"}).stderr
            found = re.search(r"Collected : (\d+)", out)
            if found is None:
                raise SystemExit(f"{name}: no instruction count in valgrind's output")
            counts[requests] = int(found.group(1))
        served = (3000 // width - 1000 // width) * width
        print(f"{name:16s} {(counts[3000] - counts[1000]) / served:10.0f} instructions/request",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("setup", "run", "callgrind"))
    parser.add_argument("work", type=Path)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scenario", nargs="*", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--shadow-sample", type=float, default=None,
                        help="serve with a shadow candidate deciding this share (0 to 1)")
    args = parser.parse_args()
    if args.step == "setup":
        setup(args.work)
    elif args.step == "callgrind":
        callgrind(args.work, args.scenario, args.shadow_sample)
    else:
        run(args.work, args.scenario, args.requests, args.warmup, args.repeat, args.shadow_sample)


if __name__ == "__main__":
    main()
