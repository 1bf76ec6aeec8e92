"""A million hostile requests over real HTTP to a real `tokensmith serve`, bounded in time.

Serves the compiled `examples/quickstart` (fresh secrets, a free 127.0.0.1 port, stopped by its
PID at the end; see `bench/api_fuzz.py`), then sends `--requests` requests (default 10^6) over
`--connections` keep-alive connections, stopping early at `--seconds`. Each request starts from
a good exchange (form or JSON body, fresh HS256 token) or a good request to another route, and
gets one to three mutations: the subject token truncated, bit-flipped, re-encoded (standard
base64, padding), its header or payload replaced (`alg: none`, deep nesting, huge numbers,
duplicate members); the body truncated, bit-flipped, oversized, nested, a field repeated; the
content type, method, path, headers (many, huge, duplicated `Content-Length` excluded, odd
bytes) changed. Framing stays honest (`Content-Length` is the body's length) except in a share
of requests that are garbage at the HTTP level, which the server answers 400 and closes.

    python bench/fuzz_http.py [--requests 1000000] [--seconds 900] [--connections 8]

Prints one JSON report: requests sent and answered, the status histogram, connections the
server closed, server CPU seconds and RSS before and after, and whether a good exchange is still
answered 200 at the end. Targets: 0 answers >= 500 (there is no JWKS provider here, so not even
a 503), RSS within 10 %, the good exchange answered. tests/runtime/test_fuzz_http_bench.py runs a
short version.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import rss_kib
from api_fuzz import quickstart_server

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
PATHS = ["/tokens", "/healthz", "/readyz", "/metrics", "/idps", "/token-providers",
         "/.well-known/jwks.json", "/openapi.json", "/", "/tokens/", "/TOKENS", "/tokens?x=1",
         "/%2e%2e/etc/passwd", "/" + "a" * 3000, "/tokens%00"]
METHODS = ["POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "FOO"]
CONTENT_TYPES = ["application/x-www-form-urlencoded", "application/json", "text/plain",
                 "application/json; charset=latin-1", "multipart/form-data; boundary=x",
                 "application/x-www-form-urlencoded; charset=utf-8", "", "application/jwt",
                 "APPLICATION/JSON", "application/json;;;", "\u00e9"]


@dataclass
class Report:
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    closed_by_server: int = 0
    seconds: float = 0.0
    cpu_before: float = 0.0
    cpu_after: float = 0.0
    rss_before_kib: int = 0
    rss_after_kib: int = 0
    good_exchange_after: int = 0

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def as_json(self) -> dict[str, Any]:
        return {
            "requests_sent": self.sent,
            "answered": sum(self.statuses.values()),
            "seconds": round(self.seconds, 1),
            "requests_per_second": round(self.sent / self.seconds) if self.seconds else 0,
            "statuses": dict(sorted(self.statuses.items())),
            "answers_5xx": self.server_errors,
            "connections_closed_by_server": self.closed_by_server,
            "server_cpu_seconds": round(self.cpu_after - self.cpu_before, 1),
            "server_rss_kib_before": self.rss_before_kib,
            "server_rss_kib_after": self.rss_after_kib,
            "server_rss_growth_percent": round(
                100 * (self.rss_after_kib - self.rss_before_kib) / max(1, self.rss_before_kib), 1
            ),
            "good_exchange_after": self.good_exchange_after,
        }


# -- mutations ------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


ALG_NONE = _b64(b'{"alg":"none","typ":"JWT"}')
ODD_PAYLOAD = _b64(b'{"exp":1e999,"iss":1,"iss":2}')
CRIT_HEADER = _b64(b'{"alg":"HS256","crit":["x"],"x":1}')
JKU_HEADER = _b64(b'{"alg":"RS256","kid":"../../x","jku":"http://169.254.169.254"}')


def _flip(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    return bytes(buf)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def mutate_token(token: str, rng: random.Random) -> str:
    head, payload, signature = token.split(".")
    choice = rng.randrange(12)
    if choice == 0:
        return token[: rng.randrange(len(token))]
    if choice == 1:
        return _flip(token.encode(), rng).decode("latin-1")
    if choice == 2:  # standard base64 with padding instead of base64url
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        return f"{head}.{base64.b64encode(raw).decode()}.{signature}"
    if choice == 3:
        return f"{ALG_NONE}.{payload}."
    if choice == 4:
        return f"{head}.{_b64(_nested(rng.randint(10, 5000)).encode())}.{signature}"
    if choice == 5:
        return f"{head}.{ODD_PAYLOAD}.{signature}"
    if choice == 6:
        return f"{CRIT_HEADER}.{payload}.{signature}"
    if choice == 7:
        return token + "." + token
    if choice == 8:
        return token * rng.randint(2, 40)
    if choice == 9:
        return f"{head}.{payload}.{_b64(rng.randbytes(32))}"
    if choice == 10:
        return "".join(rng.choice("abc.-_=+/%\x00\u00ff") for _ in range(rng.randint(0, 300)))
    return f"{JKU_HEADER}.{payload}.{signature}"


def make_body(token: str, kind: str, rng: random.Random) -> bytes:
    fields = {"grant_type": TOKEN_EXCHANGE, "subject_token": token, "audience": "my-service"}
    if rng.random() < 0.3:
        fields[rng.choice(["resource", "actor_token", "audience", "grant_type", "x" * 50])] = (
            rng.choice(["my-service", "https://a.example/org/my-service", "", "\u00e9" * 10])
        )
    body = json.dumps(fields).encode() if kind == "json" else urlencode(fields).encode()
    choice = rng.randrange(10)
    if choice == 0:
        body = body[: rng.randrange(len(body) + 1)]
    elif choice == 1:
        body = _flip(body, rng)
    elif choice == 2:
        body = body + b"&" + body if kind == "form" else b'{"a":' * 3000 + b"1" + b"}" * 3000
    elif choice == 3:
        body = body + b" " * rng.choice([1, 60_000, 70_000])
    elif choice == 4:
        body = json.dumps([fields] * rng.randint(1, 50)).encode()
    elif choice == 5:
        body = body.replace(b"subject_token", b"subject_token", 1) + b"&subject_token=x"
    return body


def build_request(good: str, rng: random.Random) -> bytes:
    """One mutated request, as the bytes sent on the wire."""
    if rng.random() < 0.02:  # garbage at the HTTP level: the server answers 400 and closes
        return rng.choice([b"GET / HTTP/9.9\r\n\r\n", b"\x16\x03\x01\x00\xa5\x01\r\n\r\n",
                           b"POST /tokens HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                           b"POST /tokens HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
                           _flip(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", rng)])
    token = good if rng.random() < 0.2 else mutate_token(good, rng)
    kind = rng.choice(["form", "json"])
    body = make_body(token, kind, rng)
    method = "POST" if rng.random() < 0.7 else rng.choice(METHODS)
    path = "/tokens" if rng.random() < 0.7 else rng.choice(PATHS)
    content_type = (
        ("application/json" if kind == "json" else "application/x-www-form-urlencoded")
        if rng.random() < 0.7 else rng.choice(CONTENT_TYPES)
    )
    headers = [("Host", "127.0.0.1"), ("Content-Type", content_type)]
    extra = rng.randrange(8)
    if extra == 0:
        headers += [(f"X-Filler-{i}", "v") for i in range(rng.randint(90, 130))]
    elif extra == 1:
        headers.append(("X-Big", "v" * rng.choice([100, 8_000, 17_000])))
    elif extra == 2:
        headers.append(("X-Request-Id", rng.choice(["ok-request-id-1", "\u00e9" * 20, "x" * 100])))
    elif extra == 3:
        headers.append(("Origin", rng.choice(["https://evil.example", "null"])))
    if method in ("GET", "HEAD") and rng.random() < 0.5:
        body = b""
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    head += f"Content-Length: {len(body)}\r\n\r\n"
    return head.encode("utf-8", "surrogateescape") + body


# -- the client -----------------------------------------------------------------------------------


async def _read_answer(reader: asyncio.StreamReader, method_head: bool) -> tuple[int, bool]:
    """(status, server closes the connection) of one response; framing by Content-Length."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    closes = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            closes = True
    if length and not method_head:
        await reader.readexactly(length)
    return status, closes


async def _connection(port: int, next_request: Callable[[], bytes | None], report: Report,
                      deadline: float) -> None:
    reader = writer = None
    while time.monotonic() < deadline:
        request = next_request()
        if request is None:
            break
        if writer is None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert reader is not None
        writer.write(request)
        report.sent += 1
        try:
            status, closes = await asyncio.wait_for(
                _read_answer(reader, request.startswith(b"HEAD ")), 30
            )
            report.statuses[status] += 1
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, IndexError):
            report.statuses[0] += 1  # closed without an answer
            closes = True
        if closes:
            report.closed_by_server += 1
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(url: str, good_token: Callable[[], str], pid: int, *, requests: int, seconds: float,
        connections: int, seed: int = 0) -> Report:
    """Send the mutated requests to the server at `url` (see the module docstring)."""
    port = int(url.rsplit(":", 1)[1])
    rng = random.Random(seed)
    report = Report()
    # warm up the server (imports, caches) before the "before" figures
    with httpx.Client(base_url=url) as client:
        for _ in range(200):
            client.post("/tokens", data={"grant_type": TOKEN_EXCHANGE,
                                         "subject_token": good_token(), "audience": "my-service"})
    report.cpu_before, report.rss_before_kib = _cpu_seconds(pid), rss_kib(pid)
    good = [good_token()]
    refreshed = [time.monotonic()]
    budget = [requests]

    def next_request() -> bytes | None:
        if budget[0] <= 0:
            return None
        budget[0] -= 1
        if time.monotonic() - refreshed[0] > 60:  # keep the good token fresh on long runs
            good[0], refreshed[0] = good_token(), time.monotonic()
        return build_request(good[0], rng)

    async def main() -> None:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(
            _connection(port, next_request, report, deadline) for _ in range(connections)
        ))

    started = time.monotonic()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:  # the client is the bottleneck
        runner.run(main())
    report.seconds = time.monotonic() - started
    report.cpu_after, report.rss_after_kib = _cpu_seconds(pid), rss_kib(pid)
    answer = httpx.post(f"{url}/tokens", data={"grant_type": TOKEN_EXCHANGE,
                                               "subject_token": good_token(),
                                               "audience": "my-service"}, timeout=10)
    report.good_exchange_after = answer.status_code
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=900.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with quickstart_server() as (url, good_token, pid):
        report = run(url, good_token, pid, requests=args.requests, seconds=args.seconds,
                     connections=args.connections, seed=args.seed)
    print(json.dumps(report.as_json(), indent=2))
    ok = report.server_errors == 0 and report.good_exchange_after == 200
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
