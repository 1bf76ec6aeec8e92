"""Instructions (and simulated cache misses) per request of a real `tokensmith serve`, by callgrind.

    python bench/server_cost.py [--shadow-sample F] [--cache-sim] [--requests N1 N2]

`asgi_cost.py callgrind` counts the app in process; this counts the whole server process as it
runs in production: uvicorn, the HTTP parser, the access log, the event loop, the exchange and,
with `--shadow-sample`, the shadow candidate (the candidate of `shadow_bench.py`: the live config
with one requirement tightened, so every sampled decision is decided in full and `same`). The
server runs under `valgrind --tool=callgrind` twice, answering N1 and then N2 HS256 exchanges
(16 keep-alive connections from this process, each waiting for its answer before the next
request), and the difference of the two totals divided by N2 - N1 cancels start-up and
shutdown. Kernel work is not counted (valgrind sees the process only).

Under callgrind the server is about fifty times slower, so the shadow's time bounds would shed
decisions (`dropped`); the sampled decisions are counted from `/metrics` and printed, and a run
with `dropped` decisions is refused. Each of the two runs is at least a minute; `--cache-sim`
doubles that and adds callgrind's simulated first-level cache misses per request (instruction
and data), which the instruction count cannot show: a sampled request decided alone runs with
colder caches than the live exchanges decided in a batch.

The sampled share is random: at 0.1 the count of decisions between the two runs moves by about
a tenth, so compare per sampled decision (printed) rather than per request. Run-to-run noise of
the per-request figure is about 1% (uvicorn's once-a-second work, garbage collection).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from _support import free_port, wait_ready
from http_bench import Keys, config_yaml, form_body, subject_token
from shadow_bench import candidate_yaml, shadow_counts

CONNECTIONS = 16
#: callgrind's summary lines kept with `--cache-sim`
MISSES = ("I1  misses", "D1  misses", "LLi misses", "LLd misses")


def compile_bundles(work: Path, keys: Keys) -> None:
    live = config_yaml(keys, 0, with_asymmetric=False)
    for name, text in (("live", live), ("candidate", candidate_yaml(live))):
        (work / f"{name}.yaml").write_text(text, encoding="utf-8")
        subprocess.run(
            [sys.executable, "-m", "tokensmith", "compile", str(work / f"{name}.yaml"),
             "-o", str(work / name)], check=True, capture_output=True, timeout=300)


def request_bytes(body: str) -> bytes:
    data = body.encode()
    return (b"POST /tokens HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)


async def drive(port: int, total: int, request: bytes, seconds: float) -> int:
    """Send `total` requests over `CONNECTIONS` keep-alive connections, all within `seconds`;
    the 200s."""
    issued = 0

    async def connection(count: int) -> None:
        nonlocal issued
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for _ in range(count):
                writer.write(request)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: (\d+)", head)
                if length is None:
                    raise SystemExit("an answer without Content-Length")
                await reader.readexactly(int(length.group(1)))
                issued += head.startswith(b"HTTP/1.1 200")
        finally:
            writer.close()
            await writer.wait_closed()

    async with asyncio.timeout(seconds):
        await asyncio.gather(*(connection(total // CONNECTIONS) for _ in range(CONNECTIONS)))
    return issued


def callgrind(cache_sim: bool) -> list[str]:
    """The command prefix that runs the server under callgrind."""
    return ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
            *(["--cache-sim=yes"] if cache_sim else [])]


def serve_and_count(work: Path, env: dict[str, str], body: str, total: int,
                    extra: list[str], under: list[str], seconds: float = 3600.0
                    ) -> tuple[dict[str, int], dict[str, float]]:
    """One server run by the command prefix `under` (`callgrind(...)`; empty: as it is)
    answering `total` requests within `seconds`: callgrind's totals, and the shadow's counts
    from `/metrics`."""
    port = free_port()
    argv = [*under, sys.executable, "-m", "tokensmith", "serve", str(work / "live"), "--port", str(port),
            *extra]
    log = work / "serve.log"
    with open(log, "w+", encoding="utf-8") as out:  # a pipe would fill and block the server
        server = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=out,
                                  stdin=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(url, server, log, seconds=600)  # imports under callgrind take a while
            issued = asyncio.run(drive(port, total, request_bytes(body), seconds))
            if issued != total:
                raise SystemExit(f"{total - issued} of {total} requests were not issued")
            counts = shadow_counts(url, timeout=120) if extra else {}
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=600)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
        out.seek(0)
        text = out.read()
    totals = {"instructions": sum(int(n) for n in re.findall(r"Collected : (\d+)", text))}
    for name in MISSES:
        found = re.findall(rf"==\d+== {name}:\s+([\d,]+)", text)
        if found:
            totals[name.strip()] = sum(int(n.replace(",", "")) for n in found)
    return totals, counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shadow-sample", metavar="F", default=None)
    parser.add_argument("--cache-sim", action="store_true")
    parser.add_argument("--requests", nargs=2, type=int, default=[800, 2400], metavar=("N1", "N2"))
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: apt-get install valgrind", file=sys.stderr)
        return 2
    first, second = (n // CONNECTIONS * CONNECTIONS for n in args.requests)
    keys = Keys.fresh()
    env = {**os.environ, **keys.env(), "PYTHONHASHSEED": "0"}
    body = form_body(subject_token(keys, "HS256"), "hs-service")
    with tempfile.TemporaryDirectory(prefix="tokensmith-server-cost-") as tmp:
        work = Path(tmp)
        compile_bundles(work, keys)
        extra = []
        if args.shadow_sample is not None:
            extra = ["--shadow", str(work / "candidate"), "--shadow-sample", args.shadow_sample]
        (a, counts_a), (b, counts_b) = (
            serve_and_count(work, env, body, n, extra, callgrind(args.cache_sim))
            for n in (first, second))
    if counts_b.get("dropped"):
        raise SystemExit(f"the shadow dropped decisions under callgrind: {counts_b}")
    served = second - first
    label = f"shadow {args.shadow_sample}" if extra else "no shadow"
    print(f"{label}: " + ", ".join(
        f"{(b[k] - a[k]) / served:,.0f} {k}/request" for k in b), flush=True)
    if extra:
        decided = counts_b.get("same", 0) - counts_a.get("same", 0)
        print(f"  sampled decisions between the two runs: {decided:.0f} of {served} requests "
              f"({decided / served:.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
