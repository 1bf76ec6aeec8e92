"""What the reliability benches share: compile a config, serve it, stop the server by its PID.

`bench/api_fuzz.py`, `bench/fuzz_http.py` and `bench/soak.py` each run a real `tokensmith serve`
on a free 127.0.0.1 port; they start, wait for and stop it the same way, here.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx


@contextlib.contextmanager
def compiled_server(config: Path, tmp: str,
                    env: Mapping[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Compile `config` into `tmp`, serve the bundle with `env` on a free port until ready,
    yield (base URL, process); stop it by its PID at the end and fail if it logged a
    traceback."""
    bundle = Path(tmp, "bundle")
    subprocess.run([sys.executable, "-m", "tokensmith", "compile", str(config), "-o", str(bundle)],
                   check=True, capture_output=True, timeout=120)
    port = free_port()
    log = Path(tmp, "serve.log")
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "tokensmith", "serve", str(bundle), "--port", str(port)],
            env=dict(env), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, server, log)
        yield url, server
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    if "Traceback" in log.read_text():
        raise AssertionError(f"the server logged a traceback:\n{log.read_text()[-4000:]}")


def free_port() -> int:
    """A port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(url: str, server: subprocess.Popen[bytes], log: Path, seconds: float = 30) -> None:
    """Return once `url/readyz` answers 200; raise if the server exits or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited:\n{log.read_text()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        time.sleep(0.05)
    raise RuntimeError("the server did not become ready")


def rss_kib(pid: int) -> int:
    """The resident set size of process `pid`, in KiB (0 when /proc does not say)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
