"""Graceful shutdown of `tokensmith serve`, through the real server in a real process: SIGTERM
flips readiness at once, the drain keeps serving (telling keep-alive clients to reconnect), then
new connections are refused, the requests in flight finish (a body still arriving included),
the access log is flushed and the process exits 0. With `--workers`, a worker killed under load
is replaced and only the requests it held fail. Every process is stopped by its PID."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx
import jwt
import pytest

from tests.support.http_server import free_port

from .test_serve_cli import exchange, secrets_env, subject_token

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "examples" / "quickstart"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shutdown") / "bundle"
    result = subprocess.run(
        [sys.executable, "-m", "tokensmith", "compile", str(QUICKSTART), "-o", str(out)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    return out


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def workers(self) -> list[int]:
        """The PIDs of the worker processes (uvicorn spawns them with multiprocessing)."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        found = []
        for child in children:
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            except (FileNotFoundError, ProcessLookupError):  # it exited while being read
                continue
            if b"spawn_main" in cmdline:
                found.append(int(child))
        return found


@contextmanager
def started(bundle: Path, env: Mapping[str, str], *args: str) -> Iterator[Server]:
    """`tokensmith serve` on a free port, ready; killed by PID (with its workers) if a test
    leaves it running."""
    port = free_port()
    log = bundle.parent / f"serve-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tokensmith", "serve", str(bundle), "--port", str(port),
             *args],
            env=dict(env), stdout=out, stderr=subprocess.STDOUT,
        )
    server = Server(process, port, log)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, server.output()
            assert time.monotonic() < deadline, "not ready:\n" + server.output()
            try:
                if httpx.get(server.url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            workers = server.workers()
            process.kill()
            process.wait()
        for pid in workers:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def form_body(env: Mapping[str, str]) -> bytes:
    return urlencode({"grant_type": TOKEN_EXCHANGE, "subject_token": subject_token(env),
                      "audience": "my-service"}).encode()


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read an HTTP/1.1 answer until the server closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `condition()` until true; the seconds it took."""
    started_at = time.monotonic()
    while not condition():
        assert time.monotonic() - started_at < timeout, what
        time.sleep(0.02)
    return time.monotonic() - started_at


def ready_status(url: str) -> int:
    try:
        return httpx.get(url + "/readyz", timeout=1).status_code
    except httpx.TransportError:
        return 0


def refused(url: str) -> bool:
    """True when a new connection gets no answer: refused, or reset without a word (it
    reached the listening socket's queue as the last worker closed it)."""
    try:
        httpx.get(url + "/healthz", timeout=2)
    except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError):
        return True
    return False


def test_sigterm_drains_then_finishes_a_body_still_arriving_and_exits_0(bundle: Path) -> None:
    env = secrets_env()
    drain = 3.0
    with started(bundle, env, "--drain-seconds", str(drain)) as server:
        # a request in flight: headers sent, its body only half
        body = form_body(env)
        slow = socket.create_connection(("127.0.0.1", server.port), timeout=20)
        slow.sendall(b"POST /tokens HTTP/1.1\r\nHost: tokensmith\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:40])
        keep_alive = httpx.Client(base_url=server.url, timeout=10)
        first = keep_alive.post("/tokens", content=form_body(env),
                                headers={"content-type": "application/x-www-form-urlencoded"})
        assert first.status_code == 200 and "connection" not in first.headers

        server.process.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        took = wait_for(lambda: ready_status(server.url) == 503, 1.0, "readiness did not flip")
        draining = httpx.get(server.url + "/readyz", timeout=1)
        assert draining.json()["status"] == "draining"
        assert "retry-after" not in draining.headers  # it will not be ready again

        # still serving while draining, and telling keep-alive clients to reconnect elsewhere
        again = keep_alive.post("/tokens", content=form_body(env),
                                headers={"content-type": "application/x-www-form-urlencoded"})
        assert again.status_code == 200, again.text
        assert again.headers["connection"] == "close"
        fresh = exchange(server.url, subject_token(env))
        assert fresh.status_code == 200 and fresh.headers["connection"] == "close"
        keep_alive.close()
        assert time.monotonic() - sent < drain, "the drain was over too soon for this test"

        # after the drain: new connections are refused, the request in flight is not lost
        time.sleep(max(0.0, sent + drain + 0.5 - time.monotonic()))
        wait_for(lambda: refused(server.url), 3.0, "still accepting after the drain")
        assert server.process.poll() is None, "exited with a request in flight"
        slow.sendall(body[40:])
        status, headers, answer = read_answer(slow)
        slow.close()
        assert status == 200, answer
        assert headers["connection"] == "close"
        issued = jwt.decode(json.loads(answer)["access_token"], env["TOKENSMITH_SIGNING_KEY"],
                            ["HS256"], audience="my-service")
        assert issued["act"]["sub"] == "user-1"

        assert server.process.wait(10) == 0
        output = server.output()
    assert took < 1.0
    assert "Traceback" not in output
    assert env["TOKENSMITH_SIGNING_KEY"] not in output
    # the access log was flushed before exiting: every exchange is there, the slow one last
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    exchanges = [line for line in lines if line["path"] == "/tokens"]
    assert [line["outcome"] for line in exchanges] == ["issued"] * 4
    assert output.splitlines()[-1].endswith("(4 tokens issued)")
    assert f"SIGTERM: draining for {drain:g} s" in output


@dataclass
class Load:
    """Threads posting exchanges back to back, each on its own keep-alive connection; every
    answer or failure noted with its time."""

    url: str
    env: Mapping[str, str]
    connections: int
    stop: threading.Event = field(default_factory=threading.Event)
    #: (time, status code or the transport error's class, the connection's number)
    results: list[tuple[float, str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, connection: int) -> None:
        body = form_body(self.env)
        headers = {"content-type": "application/x-www-form-urlencoded"}
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self.stop.is_set():
                try:
                    answer = client.post("/tokens", content=body, headers=headers)
                    outcome = str(answer.status_code)
                except httpx.TransportError as exc:
                    outcome = type(exc).__name__
                with self.lock:
                    self.results.append((time.monotonic(), outcome, connection))

    @contextmanager
    def running(self) -> Iterator[None]:
        threads = [threading.Thread(target=self.run, args=(n,)) for n in range(self.connections)]
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(15)


def test_a_worker_killed_under_load_is_replaced_and_only_its_requests_fail(
    bundle: Path,
) -> None:
    env = secrets_env()
    with started(bundle, env, "--workers", "2", "--drain-seconds", "1") as server:
        wait_for(lambda: len(server.workers()) == 2, 10, "two workers")
        before = server.workers()
        load = Load(server.url, env, connections=6)
        with load.running():
            time.sleep(1.5)
            os.kill(before[0], signal.SIGKILL)
            killed_at = time.monotonic()
            wait_for(lambda: len(server.workers()) == 2 and before[0] not in server.workers(),
                     15, "the killed worker was not replaced")
            replaced_at = time.monotonic()
            time.sleep(2.0)  # the new worker starts and takes its share
        failed = [(t, outcome, n) for t, outcome, n in load.results if outcome != "200"]
        answered = [t for t, outcome, _ in load.results if outcome == "200"]
        print(f"worker killed under load: {len(failed)} of {len(load.results)} requests failed "
              f"({sorted({o for _, o, _ in failed})}); replaced in {replaced_at - killed_at:.1f} s")
        # only requests on the killed worker's connections fail: connection errors (never an
        # HTTP error), after it died, at most one per connection (the next request reconnects)
        assert all(not outcome.isdigit() for _, outcome, _ in failed), failed
        assert all(t >= killed_at for t, _, _ in failed), failed
        per_connection = [n for _, _, n in failed]
        assert len(per_connection) == len(set(per_connection)), failed
        assert len(answered) > 50
        assert any(t > replaced_at + 1 for t in answered)
        new_worker = next(pid for pid in server.workers() if pid not in before)
        assert Path(f"/proc/{new_worker}").exists()

        # SIGTERM to the parent: every worker drains, then the whole server exits 0
        server.process.send_signal(signal.SIGTERM)
        wait_for(lambda: ready_status(server.url) == 503, 2.0, "readiness did not flip")
        wait_for(lambda: refused(server.url), 5.0, "still accepting after the drain")
        assert server.process.wait(10) == 0
        output = server.output()
    assert "Traceback" not in output
    # every worker stopped cleanly; the one that was serving drained first (the replacement
    # drains too, unless the signal reached it while it was still starting: a busy machine)
    assert output.count("stopped after answering") == 2
    assert 1 <= output.count("SIGTERM: draining for 1 s") <= 2


def test_sigint_stops_at_once_without_a_drain_also_with_workers(bundle: Path) -> None:
    env = secrets_env()
    with started(bundle, env, "--workers", "2", "--drain-seconds", "60") as server:
        wait_for(lambda: len(server.workers()) == 2, 10, "two workers")
        assert exchange(server.url, subject_token(env)).status_code == 200
        server.process.send_signal(signal.SIGINT)  # Ctrl-C
        sent = time.monotonic()
        assert server.process.wait(20) == 0
        took = time.monotonic() - sent
        output = server.output()
    assert took < 10, f"took {took:.1f} s: it drained"
    assert "draining" not in output and "Traceback" not in output
    assert output.count("stopped after answering") == 2
