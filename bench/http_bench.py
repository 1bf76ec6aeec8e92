"""HTTP load benchmark of `tokensmith serve`, against a Starlette hello-world served the same way.

Needs `wrk` (Debian/Ubuntu: `apt-get install wrk`; it is looked up on PATH). Everything runs on
127.0.0.1 with bounded runs, and every server started here is stopped by its PID.

    python bench/http_bench.py [--duration 10] [--connections 64] [--threads 2]

One run measures:
- requests/s and p50/p99 latency of a hello-world endpoint and of `POST /tokens` for HS256-in/
  HS256-out, RS256-in/HS256-out and ES256-in/ES256-out, with 1 worker and then 2;
- HS256 throughput with a bundle of 10,000 identity providers vs a bundle of 1;
- resident memory (VmRSS) of the server after 10,000 and after 200,000 exchanges;
- start-up time with 10,000 identity providers (process start to `/readyz` 200);
- the per-request cost split (parse, verify, map, sign, respond) measured in-process, and the
  cost of running the exchange in a thread pool instead of the event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import free_port

HERE = Path(__file__).resolve().parent
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"


# --- the hello-world app, served by `--serve-hello` -------------------------------------------

def hello_app() -> Any:
    """A Starlette app with one endpoint answering a small JSON body."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def hello(request: Request) -> Response:
        return Response(b'{"hello":"world"}', 200, None, "application/json")

    return Starlette(routes=[Route("/", hello, methods=["GET", "POST"])])


def serve_hello(port: int, workers: int) -> None:
    import uvicorn

    from tokensmith.runtime.server import server_options

    uvicorn.run(
        "http_bench:hello_app", factory=True, app_dir=str(HERE), workers=workers,
        **server_options("127.0.0.1", port),
    )


# --- configs and tokens ---------------------------------------------------------------------

@dataclass
class Keys:
    hs_secret: str
    signing_secret: str
    rsa_key: rsa.RSAPrivateKey
    es_key: ec.EllipticCurvePrivateKey
    es_signing_pem: str

    @classmethod
    def fresh(cls) -> Keys:
        signing = ec.generate_private_key(ec.SECP256R1())
        pem = signing.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return cls(
            hs_secret=secrets.token_urlsafe(32),
            signing_secret=secrets.token_urlsafe(32),
            rsa_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
            es_key=ec.generate_private_key(ec.SECP256R1()),
            es_signing_pem=pem,
        )

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "BENCH_HS_SECRET": self.hs_secret,
            "BENCH_SIGNING_SECRET": self.signing_secret,
            "BENCH_ES_SIGNING_KEY": self.es_signing_pem,
        }


def _jwk(key: Any, kid: str, alg: str) -> str:
    algorithm = jwt.algorithms.get_default_algorithms()[alg]
    member = json.loads(algorithm.to_jwk(key.public_key()))
    member.update({"kid": kid, "alg": alg, "use": "sig"})
    return json.dumps(member)


def config_yaml(keys: Keys, extra_idps: int, with_asymmetric: bool) -> str:
    """A config: the HS256 provider `hs`, optionally `rs` and `es`, plus `extra_idps` HS256 ones."""
    mapping = "    mapping: {sub.$: $.sub, email.$: $.email}"
    lines = [
        "version: 1", "issuer: https://tokens.example.com/", "signing_keys:",
        "  hs_key:", "    algorithm: HS256", "    secret: {env: BENCH_SIGNING_SECRET}",
        "  es_key:", "    algorithm: ES256", "    private_key: {env: BENCH_ES_SIGNING_KEY}",
        "identity_providers:",
        "  hs:", "    issuer: https://hs.example.com/", "    audience: bench",
        "    secret: {env: BENCH_HS_SECRET}", "    algorithms: [HS256]", mapping,
    ]
    if with_asymmetric:
        lines += [
            "  rs:", "    issuer: https://rs.example.com/", "    audience: bench",
            f"    jwks: {{keys: [{_jwk(keys.rsa_key, 'rs-1', 'RS256')}]}}",
            "    algorithms: [RS256]", mapping,
            "  es:", "    issuer: https://es.example.com/", "    audience: bench",
            f"    jwks: {{keys: [{_jwk(keys.es_key, 'es-1', 'ES256')}]}}",
            "    algorithms: [ES256]", mapping,
        ]
    for i in range(extra_idps):
        lines += [
            f"  idp-{i:05d}:", f"    issuer: https://idp-{i:05d}.example.com/",
            "    audience: bench", "    secret: {env: BENCH_HS_SECRET}", "    algorithms: [HS256]",
            mapping,
        ]
    lines += [
        "token_providers:",
            "  hs-service:", "    signing_key: hs_key", "    expires_in: 1h", mapping,
        "  es-service:", "    signing_key: es_key", "    expires_in: 1h", mapping,
    ]
    return "\n".join(lines) + "\n"


def subject_token(keys: Keys, alg: str) -> str:
    now = int(time.time())
    issuer = {"HS256": "hs", "RS256": "rs", "ES256": "es"}[alg]
    claims = {"iss": f"https://{issuer}.example.com/", "aud": "bench", "sub": "user-1",
              "email": "ada@example.com", "iat": now, "exp": now + 7200}
    if alg == "HS256":
        return jwt.encode(claims, keys.hs_secret, "HS256")
    if alg == "RS256":
        return jwt.encode(claims, keys.rsa_key, "RS256", {"kid": "rs-1"})
    return jwt.encode(claims, keys.es_key, "ES256", {"kid": "es-1"})


def form_body(token: str, service: str) -> str:
    return httpx.QueryParams(
        {"grant_type": TOKEN_EXCHANGE, "subject_token": token, "audience": service}
    ).__str__()


def compile_bundle(work: Path, name: str, yaml_text: str) -> Path:
    config = work / f"{name}.yaml"
    config.write_text(yaml_text, encoding="utf-8")
    out = work / name
    result = subprocess.run(
        [sys.executable, "-m", "tokensmith", "compile", str(config), "-o", str(out)],
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"compile {name} failed:\n{result.stderr}")
    return out


# --- servers and wrk ------------------------------------------------------------------------

class Server:
    """A server subprocess, stopped by PID; `startup` is the time to its first 200 on `ready`.

    With several workers the first 200 comes from the first worker up, while the others may
    still be starting: a load started then puts every connection on that one worker (this is
    how an early run measured 2 workers at the rate of 1). So the constructor also waits until
    `workers` worker processes exist and none has used CPU for half a second.
    """

    def __init__(
        self, argv: list[str], env: dict[str, str], ready_path: str, workers: int = 1
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [*argv, "--workers", str(workers), "--port", str(self.port)], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.startup = self._wait(ready_path, started)
        self.startup_cpu = self.cpu_seconds()
        if workers > 1:
            self._wait_for_workers(workers)

    def _wait_for_workers(self, workers: int) -> None:
        deadline = time.monotonic() + 60
        quiet_since, last = time.monotonic(), -1.0
        while time.monotonic() < deadline:
            kids = _children(self.process.pid)
            cpu = self.cpu_seconds()
            if len(kids) < workers or cpu != last:
                quiet_since, last = time.monotonic(), cpu
            elif time.monotonic() - quiet_since >= 0.5:
                return
            time.sleep(0.05)
        self.stop()
        raise SystemExit("the workers did not settle")

    def _wait(self, path: str, started: float) -> float:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"server exited with {self.process.returncode}")
            try:
                if httpx.get(self.url + path, timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            time.sleep(0.005)
        self.stop()
        raise SystemExit("server did not become ready")

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the server and its worker processes."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in (self.process.pid, *_children(self.process.pid)):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        return total / ticks

    def rss_kib(self) -> int:
        """VmRSS of the server and its worker processes, in KiB."""
        pids = [self.process.pid, *_children(self.process.pid)]
        return sum(_vm_rss(pid) for pid in pids)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    if not path.exists():
        return []
    kids = [int(p) for p in path.read_text().split()]
    return kids + [k for kid in kids for k in _children(kid)]


def _vm_rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad: int


def wrk(url: str, body: str | None, seconds: int, threads: int, connections: int, work: Path,
        prefix: Sequence[str] = ()) -> Load:
    """One wrk run against `url` (`prefix`: a command wrk runs under, as `taskset -c 1`)."""
    script = work / "post.lua"
    if body is None:
        script.write_text("wrk.method = 'GET'\n")
    else:
        script.write_text(
            "wrk.method = 'POST'\n"
            f"wrk.body = {json.dumps(body)}\n"
            "wrk.headers['Content-Type'] = 'application/x-www-form-urlencoded'\n"
        )
    result = subprocess.run(
        [*prefix, "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
         "-s", str(script), url],
        capture_output=True, text=True, check=True, timeout=seconds + 30,
    )
    return _parse_wrk(result.stdout)


def _parse_wrk(out: str) -> Load:
    def latency(pct: str) -> float:
        match = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if match is None:
            return float("nan")
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
        return float(match.group(1)) * scale

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    if errors:
        print(f"    wrk: {errors.group(0)}")
    return Load(
        rps=float(rps.group(1)) if rps else 0.0,
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        requests=int(total.group(1)) if total else 0,
        bad=int(bad.group(1)) if bad else 0,
    )


def exchanges_so_far(url: str) -> int:
    text = httpx.get(url + "/metrics", timeout=5).text
    return int(sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
        if line.startswith("tokensmith_exchanges_total{")
    ))


# --- in-process cost split ------------------------------------------------------------------

def cost_split(bundle_dir: Path, keys: Keys, iterations: int) -> dict[str, float]:
    """Microseconds per step of one HS256 exchange, each step timed over `iterations` runs."""
    from tokensmith.runtime.startup import prepare

    runtime = prepare(str(bundle_dir), keys.env())
    token = subject_token(keys, "HS256")
    body = form_body(token, "hs-service").encode()
    # as the server's lifespan does after start-up: long-lived objects out of the collector's way
    gc.collect()
    gc.freeze()
    steps = _exchange_steps(runtime, token, body)
    figures = {label: _per_call_us(fn, iterations) for label, fn in steps.items()}
    figures["whole ASGI request, in-process"] = _asgi_us(runtime, body, iterations)
    return figures


def _exchange_steps(runtime: Any, token: str, body: bytes) -> dict[str, Callable[[], object]]:
    import orjson

    from tokensmith.runtime.exchange import (
        ExchangeRequest,
        decide_matched,
        exchange,
        verify_signature,
    )
    from tokensmith.runtime.idp_index import match_identity_provider
    from tokensmith.runtime.jose import parse_compact
    from tokensmith.runtime.jti import new_jti as _new_jti
    from tokensmith.runtime.request import ACCESS_TOKEN_TYPE, FORM, body_kind, parse_body

    state = runtime.state
    now = time.time()
    jws = parse_compact(token)
    name = match_identity_provider(state.index, jws.claims)
    algorithms = state.bundle.config.identity_providers[name].algorithms
    decision = decide_matched(state.bundle, name, jws.claims, "hs-service", now, _new_jti)
    signer = state.signers[decision.signing_key]
    issued = exchange(state, ExchangeRequest(token, "hs-service"), now, _new_jti)

    def verify() -> None:
        parsed = parse_compact(token)
        matched = match_identity_provider(state.index, parsed.claims)
        verify_signature(state.key_sources[matched], algorithms, parsed)

    def respond() -> None:
        orjson.dumps({
            "access_token": issued.access_token, "issued_token_type": ACCESS_TOKEN_TYPE,
            "token_type": "Bearer", "expires_in": issued.expires_in,
        })

    return {
        "parse": lambda: parse_body(body_kind(FORM), body),
        "verify": verify,
        "map": lambda: decide_matched(state.bundle, name, jws.claims, "hs-service", now, _new_jti),
        # the claims were serialised once, by the size check in `map`
        "sign": lambda: signer.sign_payload(decision.payload),
        "respond": respond,
        "whole exchange()": lambda: exchange(
            state, ExchangeRequest(token, "hs-service"), now, _new_jti
        ),
    }


def _asgi_us(runtime: Any, body: bytes, iterations: int) -> float:
    """One POST /tokens through the whole app (envelope, metrics, log) without the network."""
    import uvloop

    from tokensmith.runtime.app import create_app

    app = create_app(runtime)
    scope = {
        "type": "http", "method": "POST", "path": "/tokens", "raw_path": b"/tokens",
        "query_string": b"", "http_version": "1.1", "scheme": "http", "root_path": "",
        "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1),
        "headers": [(b"host", b"bench"), (b"content-type", b"application/x-www-form-urlencoded"),
                    (b"content-length", str(len(body)).encode())],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise RuntimeError(f"status {message['status']}")

    async def loop(n: int) -> float:
        started = time.perf_counter_ns()
        for _ in range(n):
            await app(dict(scope), receive, send)
        return (time.perf_counter_ns() - started) / n / 1000

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(loop(iterations // 10))
        return runner.run(loop(iterations))


def _per_call_us(fn: Callable[[], object], iterations: int) -> float:
    for _ in range(iterations // 10):
        fn()
    started = time.perf_counter_ns()
    for _ in range(iterations):
        fn()
    return (time.perf_counter_ns() - started) / iterations / 1000


def thread_pool_overhead(iterations: int) -> float:
    """Microseconds that `run_in_executor` adds to a call that does nothing."""

    async def measure() -> float:
        loop = asyncio.get_running_loop()
        for _ in range(100):
            await loop.run_in_executor(None, int)
        started = time.perf_counter_ns()
        for _ in range(iterations):
            await loop.run_in_executor(None, int)
        return (time.perf_counter_ns() - started) / iterations / 1000

    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(measure())


# --- the run --------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rss-requests", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=1,
                        help="wrk runs per throughput scenario; the median is kept")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--serve-hello", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_hello:
        serve_hello(args.port, args.workers)
        return 0
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="tokensmith-bench-") as tmp:
        figures = run(Path(tmp), args)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def run(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    keys = Keys.fresh()
    env = keys.env()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} before the run")
    print("compiling bundles (3 providers, 1 provider, 10,000 providers)...", flush=True)
    small = compile_bundle(work, "small", config_yaml(keys, 0, with_asymmetric=True))
    one = compile_bundle(work, "one", config_yaml(keys, 0, with_asymmetric=False))
    big = compile_bundle(work, "big", config_yaml(keys, 9_999, with_asymmetric=False))

    def load(url: str, body: str | None) -> Load:
        return wrk(url, body, args.duration, args.threads, args.connections, work)

    results: dict[str, Any] = {"throughput": throughput(small, env, keys, load, args.repeat)}
    results["providers"] = providers_scaling(one, big, env, keys, load)
    results["memory"] = memory_growth(small, env, keys, args, work)
    print("in-process cost split (HS256 in / HS256 out)...", flush=True)
    results["cost_us"] = cost_split(small, keys, 20_000)
    results["thread_pool_overhead_us"] = thread_pool_overhead(5_000)
    print_table(results)
    return results


SERVE = [sys.executable, "-m", "tokensmith", "serve"]
HELLO = [sys.executable, str(HERE / "http_bench.py"), "--serve-hello"]


def throughput(
    small: Path, env: dict[str, str], keys: Keys, load: Callable[[str, str | None], Load],
    repeat: int = 1,
) -> list[dict[str, Any]]:
    """wrk against hello-world and the three exchange scenarios, with 1 then 2 workers;
    `repeat` runs per scenario on the same server, the median one kept."""
    scenarios: list[tuple[str, Path | None, str, str]] = [
        ("hello-world", None, "", ""),
        ("HS256 in / HS256 out", small, "HS256", "hs-service"),
        ("RS256 in / HS256 out", small, "RS256", "hs-service"),
        ("ES256 in / ES256 out", small, "ES256", "es-service"),
    ]
    rows: list[dict[str, Any]] = []
    for workers in (1, 2):
        for label, bundle, alg, svc in scenarios:
            if bundle is None:
                server = Server(HELLO, env, "/", workers)
                body = None
                url = server.url + "/"
            else:
                server = Server([*SERVE, str(bundle)], env, "/readyz", workers)
                body = form_body(subject_token(keys, alg), svc)
                url = server.url + "/tokens"
            try:
                runs = [_measured(server, url, body, load) for _ in range(repeat)]
            finally:
                server.stop()
            # the run with the median req/s (with 2 workers the connections split unevenly and
            # differently between the workers each run, and req/s swings with the split)
            figures, cpu_us = sorted(runs, key=lambda run: run[0].rps)[len(runs) // 2]
            rows.append({"scenario": label, "workers": workers, **vars(figures),
                         "server_cpu_us_per_request": cpu_us,
                         "rps_runs": [round(run[0].rps) for run in runs]})
            others = f"  (runs: {', '.join(f'{r[0].rps:.0f}' for r in runs)})" if repeat > 1 else ""
            print(f"  {label:<22} workers={workers}: {figures.rps:9.0f} req/s  "
                  f"p50 {figures.p50_ms:6.2f} ms  p99 {figures.p99_ms:6.2f} ms  "
                  f"non-2xx {figures.bad}{others}", flush=True)
    return rows


def _measured(
    server: Server, url: str, body: str | None, load: Callable[[str, str | None], Load]
) -> tuple[Load, float]:
    """One load run and the server's CPU µs per request during it."""
    cpu_before = server.cpu_seconds()
    figures = load(url, body)
    cpu = server.cpu_seconds() - cpu_before
    return figures, cpu / max(figures.requests, 1) * 1e6


def providers_scaling(
    one: Path, big: Path, env: dict[str, str], keys: Keys, load: Callable[[str, str | None], Load]
) -> dict[str, float]:
    """Start-up and HS256 req/s with 1 and with 10,000 providers.

    Both servers run side by side and take turns under load three times; the median of each is
    kept, so that a change in the machine's load during the run does not pass for a ratio.
    """
    body = form_body(subject_token(keys, "HS256"), "hs-service")
    servers = {"1": Server([*SERVE, str(one)], env, "/readyz")}
    try:
        servers["10000"] = Server([*SERVE, str(big)], env, "/readyz")
        rates: dict[str, list[float]] = {"1": [], "10000": []}
        for _ in range(3):
            for label, server in servers.items():
                rates[label].append(load(server.url + "/tokens", body).rps)
        figures: dict[str, float] = {}
        for label, server in servers.items():
            figures[f"startup_s_{label}"] = server.startup
            figures[f"startup_cpu_s_{label}"] = server.startup_cpu
            figures[f"rps_{label}"] = statistics.median(rates[label])
            figures[f"rss_kib_{label}"] = server.rss_kib()
            print(f"  {label:>5} providers: start-up {server.startup:.2f} s, req/s "
                  f"{', '.join(f'{r:.0f}' for r in rates[label])}", flush=True)
    finally:
        for server in servers.values():
            server.stop()
    return figures


def memory_growth(
    bundle: Path, env: dict[str, str], keys: Keys, args: argparse.Namespace, work: Path
) -> dict[str, int]:
    body = form_body(subject_token(keys, "HS256"), "hs-service")
    server = Server([*SERVE, str(bundle)], env, "/readyz")
    marks = {10_000: 0, args.rss_requests: 0}
    try:
        for target in sorted(marks):
            while exchanges_so_far(server.url) < target:
                wrk(server.url + "/tokens", body, 2, args.threads, args.connections, work)
            marks[target] = server.rss_kib()
            print(f"  RSS after {exchanges_so_far(server.url):,} exchanges: "
                  f"{marks[target] / 1024:.1f} MiB", flush=True)
    finally:
        server.stop()
    return {str(k): v for k, v in marks.items()}


def print_table(results: dict[str, Any]) -> None:
    rows = results["throughput"]
    hello = {r["workers"]: r for r in rows if r["scenario"] == "hello-world"}
    print("\n| scenario | workers | req/s | p50 ms | p99 ms | req/s vs hello | p99 vs hello "
          "| server CPU µs/req | CPU vs hello |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        base = hello[r["workers"]]
        print(f"| {r['scenario']} | {r['workers']} | {r['rps']:.0f} | {r['p50_ms']:.2f} | "
              f"{r['p99_ms']:.2f} | {r['rps'] / base['rps']:.0%} | "
              f"{r['p99_ms'] / base['p99_ms']:.2f}x | {r['server_cpu_us_per_request']:.0f} | "
              f"{r['server_cpu_us_per_request'] / base['server_cpu_us_per_request']:.2f}x |")
    p = results["providers"]
    m = results["memory"]
    first, last = sorted(m, key=int)
    print(f"\n10,000 vs 1 identity providers: {p['rps_10000']:.0f} vs {p['rps_1']:.0f} req/s "
          f"= {p['rps_10000'] / p['rps_1']:.0%} (target >= 90%)")
    print(f"start-up to /readyz 200: {p['startup_s_10000']:.2f} s with 10,000 providers "
          f"(target < 2 s; {p['startup_cpu_s_10000']:.2f} s of CPU), {p['startup_s_1']:.2f} s "
          f"with 1 ({p['startup_cpu_s_1']:.2f} s of CPU); "
          f"RSS {p['rss_kib_10000'] / 1024:.0f} MiB vs {p['rss_kib_1'] / 1024:.0f} MiB")
    print(f"RSS after {int(first):,} exchanges {m[first] / 1024:.1f} MiB, after {int(last):,} "
          f"{m[last] / 1024:.1f} MiB: {m[last] / m[first] - 1:+.1%} (target within 10%)")
    print("\nper-request cost, in-process (µs): " + ", ".join(
        f"{k} {v:.1f}" for k, v in results["cost_us"].items()))
    print(f"run_in_executor overhead: {results['thread_pool_overhead_us']:.1f} µs per call")


if __name__ == "__main__":
    sys.exit(main())
