"""Soak: mixed traffic at 80 % of the measured peak through JWKS key rotation and a JWKS outage.

One `tokensmith serve` (stopped by its PID at the end) trusts an HS256 identity provider and an
RS256 one whose keys come from a real JWKS server on 127.0.0.1, in a thread here. The run has
three phases of equal length: `before`, `outage` (the JWKS server answers 503 for the first
half, then accepts connections and never answers) and `after`. The JWKS server rotates keys the
way identity providers do: a new `kid` is published, the RS256 client starts signing with it one
publication lead later (longer than the cache's time to live, so the server has seen it), and
the old key is removed a grace period after that. One key is published during the outage and
tokens under it are sent as probes: they cannot be verified until the server is back, so the
answer must be 503, never 400.

    python bench/soak.py [--seconds 1800] [--connections 8]

Traffic: 40 % good HS256, 30 % good RS256 (current key), 20 % bad tokens, 10 % unknown services,
plus one probe a second under the key published during the outage. The peak is measured first
(good HS256, closed loop, 5 s); the soak paces every connection so the total is 80 % of it.
Prints one JSON report per phase: requests by class and status, good exchanges failed, p50/p99
latency of good exchanges, JWKS fetches seen by the JWKS server, server RSS at start and end.
tests/runtime/test_soak_bench.py runs a 60 s version.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import compiled_server, rss_kib

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWKS_MAX_AGE = 30  # the JWKS server's Cache-Control; the cache's minimum time to live
CONFIG = """\
version: 1
issuer: https://tokens.example.com/
signing_keys:
  soak_key:
    algorithm: HS256
    secret: {{env: SOAK_SIGNING_KEY}}
identity_providers:
  hs:
    issuer: https://hs.example.com/
    audience: soak
    secret: {{env: SOAK_HS_SECRET}}
    algorithms: [HS256]
    mapping:
      sub.$: $.sub
  rs:
    issuer: https://rs.example.com/
    audience: soak
    jwks_url: http://127.0.0.1:{port}/jwks
    allow_insecure_http: true
    algorithms: [RS256]
    mapping:
      sub.$: $.sub
token_providers:
  soak-service:
    signing_key: soak_key
    expires_in: 10m
    mapping:
      sub.$: $.sub
"""


# -- the JWKS server ------------------------------------------------------------------------------


class JwksServer:
    """A JWKS endpoint in a thread: publishes keys, goes down (503 or hanging), counts fetches."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.mode = "up"
        self.fetches: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def publish(self, kid: str) -> rsa.RSAPrivateKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        with self.lock:
            self.keys[kid] = key
        return key

    def remove(self, kid: str) -> None:
        with self.lock:
            self.keys.pop(kid, None)

    def document(self) -> bytes:
        with self.lock:
            keys = []
            for kid, key in self.keys.items():
                jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
                keys.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
        return json.dumps({"keys": keys}).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                mode = server.mode
                server.fetches[mode] += 1
                if mode == "hang":
                    while server.mode == "hang":
                        time.sleep(0.2)
                    return  # the client gave up long ago
                if mode == "down":
                    self.send_response(503)
                    self.send_header("Retry-After", "5")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = server.document()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", f"max-age={JWKS_MAX_AGE}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> JwksServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.mode = "up"
        self.httpd.shutdown()
        self.httpd.server_close()


# -- traffic --------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    good_failed: Counter[int] = field(default_factory=Counter)
    fetches: dict[str, int] = field(default_factory=dict)
    rss_kib_start: int = 0
    rss_kib_end: int = 0

    def count(self, kind: str, status: int) -> None:
        self.statuses.setdefault(kind, Counter())[status] += 1

    def as_json(self) -> dict[str, Any]:
        latencies = sorted(self.latencies)
        pick = (lambda q: round(1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2)
                ) if latencies else (lambda q: None)
        return {
            "phase": self.name,
            "requests": {k: dict(sorted(v.items())) for k, v in sorted(self.statuses.items())},
            "good_exchanges_failed": dict(self.good_failed),
            "good_p50_ms": pick(0.5), "good_p99_ms": pick(0.99),
            "good_mean_ms": round(1000 * statistics.fmean(latencies), 2) if latencies else None,
            "jwks_fetches": self.fetches,
            "rss_kib_start": self.rss_kib_start, "rss_kib_end": self.rss_kib_end,
        }


class Clients:
    """The tokens of every traffic class; the RS256 signing key follows the rotation."""

    def __init__(self, hs_secret: str, jwks: JwksServer) -> None:
        self.hs_secret = hs_secret
        self.jwks = jwks
        self.rs_kid = "rs-1"
        self.rs_key = jwks.publish("rs-1")
        self.probe: tuple[str, rsa.RSAPrivateKey] | None = None

    def claims(self, iss: str) -> dict[str, Any]:
        now = int(time.time())
        return {"iss": iss, "aud": "soak", "sub": "user-1", "iat": now, "exp": now + 300}

    def request(self, kind: str) -> dict[str, str]:
        service = "soak-service"
        if kind == "good_hs":
            token = jwt.encode(self.claims("https://hs.example.com/"), self.hs_secret, "HS256")
        elif kind == "good_rs":
            token = jwt.encode(self.claims("https://rs.example.com/"), self.rs_key, "RS256",
                               {"kid": self.rs_kid})
        elif kind == "probe_new_key":
            assert self.probe is not None
            token = jwt.encode(self.claims("https://rs.example.com/"), self.probe[1], "RS256",
                               {"kid": self.probe[0]})
        elif kind == "bad_token":
            good = jwt.encode(self.claims("https://hs.example.com/"), self.hs_secret, "HS256")
            token = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
        else:
            token = jwt.encode(self.claims("https://hs.example.com/"), self.hs_secret, "HS256")
            service = f"no-such-service-{random.randrange(1000)}"
        return {"grant_type": TOKEN_EXCHANGE, "subject_token": token, "audience": service}


MIX = [("good_hs", 0.4), ("good_rs", 0.3), ("bad_token", 0.2), ("unknown_service", 0.1)]


async def _worker(client: httpx.AsyncClient, clients: Clients, phases: list[Phase],
                  current: list[int], interval: float, stop: float) -> None:
    rng = random.Random()
    next_at = time.monotonic()
    while time.monotonic() < stop:
        kind = rng.choices([k for k, _ in MIX], [w for _, w in MIX])[0]
        started = time.monotonic()
        phase = phases[current[0]]
        try:
            answer = await client.post("/tokens", data=clients.request(kind))
            status = answer.status_code
        except httpx.HTTPError:
            status = 0
        phase.count(kind, status)
        if kind.startswith("good"):
            if status == 200:
                phase.latencies.append(time.monotonic() - started)
            else:
                phase.good_failed[status] += 1
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))


async def _prober(client: httpx.AsyncClient, clients: Clients, phases: list[Phase],
                  current: list[int], stop: float) -> None:
    while time.monotonic() < stop:
        await asyncio.sleep(1.0)
        if clients.probe is None:
            continue
        try:
            answer = await client.post("/tokens", data=clients.request("probe_new_key"))
            status = answer.status_code
        except httpx.HTTPError:
            status = 0
        phases[current[0]].count("probe_new_key", status)


async def _peak(url: str, clients: Clients, connections: int, seconds: float = 5.0) -> float:
    done = 0
    stop = time.monotonic() + seconds

    async def loop(client: httpx.AsyncClient) -> None:
        nonlocal done
        while time.monotonic() < stop:
            await client.post("/tokens", data=clients.request("good_hs"))
            done += 1

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await asyncio.gather(*(loop(client) for _ in range(connections)))
    return done / seconds


async def _schedule(jwks: JwksServer, clients: Clients, phases: list[Phase], current: list[int],
                    pid: int, seconds: float, lead: float) -> None:
    """Phases, the outage, and the rotation (see the module docstring)."""
    third = seconds / 3
    start = time.monotonic()

    async def at(offset: float) -> None:
        await asyncio.sleep(max(0.0, start + offset - time.monotonic()))

    def mark(index: int) -> None:
        if index > 0:
            phases[index - 1].rss_kib_end = rss_kib(pid)
            phases[index - 1].fetches = dict(jwks.fetches)
            jwks.fetches.clear()
        if index < len(phases):
            current[0] = min(index, len(phases) - 1)
            phases[index].rss_kib_start = rss_kib(pid)

    mark(0)
    # rotation before the outage: rs-2 published at once, signed with from `lead` on,
    # rs-1 removed a little later (its tokens are no longer sent by then)
    jwks.publish("rs-2")
    await at(min(lead, third * 0.8))
    clients.rs_key, clients.rs_kid = jwks.keys["rs-2"], "rs-2"
    await at(min(lead, third * 0.8) + 2)
    jwks.remove("rs-1")
    await at(third)
    mark(1)
    jwks.mode = "down"
    jwks.publish("rs-3")  # published during the outage: never fetched until it ends
    clients.probe = ("rs-3", jwks.keys["rs-3"])
    await at(1.5 * third)
    jwks.mode = "hang"
    await at(2 * third)
    jwks.mode = "up"
    mark(2)
    await at(3 * third)
    mark(3)


def run(seconds: float, connections: int) -> dict[str, Any]:
    """The whole soak; returns its report (the peak, the paced rate, each phase)."""
    env = {**os.environ, "SOAK_HS_SECRET": secrets.token_urlsafe(32),
           "SOAK_SIGNING_KEY": secrets.token_urlsafe(32)}
    # a key must be published for longer than the cache's time to live (plus the refresh
    # jitter) before tokens are signed with it: then the routine refresh has fetched it
    lead = JWKS_MAX_AGE * 1.2
    with JwksServer() as jwks, tempfile.TemporaryDirectory() as tmp:
        clients = Clients(env["SOAK_HS_SECRET"], jwks)  # publishes rs-1 before the server starts
        with _serve(tmp, jwks.port, env) as (url, pid):
            peak = asyncio.run(_peak(url, clients, connections))
            rate = 0.8 * peak
            phases = [Phase("before"), Phase("outage"), Phase("after")]
            current = [0]

            async def soak() -> None:
                stop = time.monotonic() + seconds
                limits = httpx.Limits(max_connections=connections + 2)
                async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
                    await asyncio.gather(
                        _schedule(jwks, clients, phases, current, pid, seconds, lead),
                        _prober(client, clients, phases, current, stop),
                        *(_worker(client, clients, phases, current, connections / rate, stop)
                          for _ in range(connections)),
                    )

            asyncio.run(soak())
    return {"seconds": seconds, "peak_per_second": round(peak), "paced_per_second": round(rate),
            "phases": [phase.as_json() for phase in phases],
            "good_exchanges_failed": sum(sum(p.good_failed.values()) for p in phases),
            "probes_refused_400": sum(p.statuses.get("probe_new_key", Counter())[400]
                                      for p in phases)}


@contextlib.contextmanager
def _serve(tmp: str, jwks_port: int, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    config = Path(tmp, "config")
    config.mkdir()
    (config / "tokensmith.yaml").write_text(CONFIG.format(port=jwks_port))
    with compiled_server(config, tmp, env) as (url, server):
        yield url, server.pid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1800.0)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args(argv)
    report = run(args.seconds, args.connections)
    print(json.dumps(report, indent=2))
    return 1 if report["good_exchanges_failed"] or report["probes_refused_400"] else 0

if __name__ == "__main__":
    sys.exit(main())
