"""Run the app on uvicorn with uvloop and httptools.

`listen(host, port)` opens the listening socket first, so that the CLI can say where it
listens only once it does, and a busy port is an error before anything else. `serve` then runs
uvicorn on that socket. SIGTERM drains before stopping (`runtime.shutdown`).

With one worker the app is built in this process from the `Runtime` that `prepare` already
checked. With several, uvicorn starts worker processes that import `app_from_environment` (a
factory) and rebuild the runtime from the bundle directory passed in `TOKENSMITH_BUNDLE_DIR`;
the parent checked the same bundle, signatures and secrets first (the workers judge the
signatures again with the parent's trust), so a worker fails only if they changed.
uvicorn's supervisor replaces a worker that dies (checking every half second), and passes
SIGTERM (or SIGINT) on to every worker, each of which drains (or not), finishes and exits.
uvicorn's own access log is off: `runtime.accesslog` writes one JSON line per request to
standard error.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from typing import Any

import uvicorn
from starlette.types import ASGIApp
from uvicorn.supervisors import Multiprocess

from . import accesslog
from .app import create_app
from .body import BODY_TIMEOUT_SECONDS
from .bundle_keys import load_trust
from .bundle_signatures import Trust
from .errors import BundleError, StartupError
from .shutdown import DRAIN_SECONDS, Drain
from .startup import KEYS_WAIT_SECONDS, Runtime, ShadowOptions, prepare

BUNDLE_DIR_ENV = "TOKENSMITH_BUNDLE_DIR"
DRAIN_SECONDS_ENV = "TOKENSMITH_DRAIN_SECONDS"
#: for worker processes: the shadow candidate's directory and sample (`serve --shadow`)
SHADOW_DIR_ENV = "TOKENSMITH_SHADOW_DIR"
SHADOW_SAMPLE_ENV = "TOKENSMITH_SHADOW_SAMPLE"
#: The trust the parent judged the bundle with, for the workers: JSON `{"paths", "required"}`.
WORKER_TRUST_ENV = "TOKENSMITH_WORKER_TRUST"
FACTORY = "tokensmith.runtime.server:app_from_environment"

#: Seconds an idle keep-alive connection stays open; uvicorn's default (5) fits behind a proxy.
KEEP_ALIVE_SECONDS = 5
#: After the drain, how long the requests in flight may take before they are cancelled. A body
#: is refused `BODY_TIMEOUT_SECONDS` (+1) after its read began, an exchange waits at most
#: `KEYS_WAIT_SECONDS` for keys: this backstop is never reached by a request that behaves.
SHUTDOWN_SECONDS = int(BODY_TIMEOUT_SECONDS + 1 + KEYS_WAIT_SECONDS + 1.5)
#: Connections the kernel queues before the server accepts them (uvicorn's default).
BACKLOG = 2048


def server_options(host: str, port: int) -> dict[str, Any]:
    """The uvicorn settings shared by the CLI, the test fixture and the benchmark."""
    return {
        "host": host,
        "port": port,
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "on",
        "access_log": False,
        "server_header": False,
        # client addresses are never used (nor logged), so X-Forwarded-* need no parsing
        "proxy_headers": False,
        "date_header": True,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "timeout_graceful_shutdown": SHUTDOWN_SECONDS,
        "log_level": "warning",
    }


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to (`host`, `port`) and listening (port 0: any free port); `OSError`
    (`socket.gaierror` for a host that does not resolve) when it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # an address whose previous server left connections in TIME_WAIT can be bound again;
        # a port with a listening socket still cannot (Linux)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)  # worker processes serve it too
    return sock


def pass_trust_to_workers(paths: list[str], required: int) -> None:
    """Make every worker judge the bundle's signatures as the parent did (`serve --trust`)."""
    os.environ[WORKER_TRUST_ENV] = json.dumps({"paths": paths, "required": required})


def _worker_trust() -> Trust | None:
    text = os.environ.get(WORKER_TRUST_ENV)
    if not text:
        return None
    spec = json.loads(text)
    return Trust(load_trust(spec["paths"]), int(spec["required"]))


def serve(
    runtime: Runtime,
    sock: socket.socket,
    workers: int = 1,
    drain_seconds: float = DRAIN_SECONDS,
    shadow: ShadowOptions | None = None,
) -> int:
    """Serve on `sock` (from `listen`) until SIGTERM (after draining for `drain_seconds`) or
    SIGINT; `runtime` was prepared from `runtime.bundle.path` (and `shadow`'s candidate).

    Returns the exit status: 0 after a normal shutdown, 2 when the server could not start.
    """
    accesslog.configure()
    host, port = sock.getsockname()[:2]
    options = server_options(host, port)
    try:
        if workers <= 1:
            config = uvicorn.Config(create_app(runtime, Drain(drain_seconds)), **options)
            _run_one(uvicorn.Server(config), sock)
        else:
            if runtime.bundle.path is None:
                raise ValueError("several workers need a bundle directory")
            os.environ[BUNDLE_DIR_ENV] = os.path.abspath(runtime.bundle.path)
            if shadow is not None:
                os.environ[SHADOW_DIR_ENV] = os.path.abspath(shadow.directory)
                os.environ[SHADOW_SAMPLE_ENV] = repr(shadow.sample)
            os.environ[DRAIN_SECONDS_ENV] = repr(drain_seconds)
            config = uvicorn.Config(FACTORY, factory=True, workers=workers, **options)
            _Supervisor(config, sockets=[sock]).run()
    except SystemExit as exc:  # uvicorn exits with 3 when the app cannot start
        return 0 if exc.code in (None, 0) else 2
    except KeyboardInterrupt:  # Ctrl-C: uvicorn has stopped, then raised it again
        return 0
    finally:
        sock.close()
        accesslog.flush()
    return 0


def _run_one(server: uvicorn.Server, sock: socket.socket) -> None:
    """Run `server` in this process. When it stops for a signal, uvicorn restores the handler
    that was there before and raises the signal again; SIGTERM is ignored meanwhile, so that
    the process exits 0 after a drain rather than being killed by that second SIGTERM."""
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        server.run(sockets=[sock])
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not server.started:
        raise SystemExit(3)


class _Supervisor(Multiprocess):
    """uvicorn's supervisor of worker processes, with two changes. It passes SIGINT on to the
    workers as SIGINT (uvicorn sends SIGTERM), so that Ctrl-C stops them at once, without the
    drain. And it lets go of the listening socket when it tells the workers to stop: they hold
    it while they drain, and once the last of them has stopped no copy is left open, so new
    connections are refused instead of waiting in a queue that nobody reads."""

    interrupted = False

    def handle_int(self) -> None:
        self.interrupted = True
        super().handle_int()

    def terminate_all(self) -> None:
        if self.interrupted:
            for worker in self.processes:
                if worker.exitcode is None and worker.pid is not None:
                    os.kill(worker.pid, signal.SIGINT)
        else:
            super().terminate_all()
        for sock in self.sockets:
            sock.close()


def app_from_environment() -> ASGIApp:
    """Factory for worker processes: the app for the bundle in `TOKENSMITH_BUNDLE_DIR`."""
    accesslog.configure()
    directory = os.environ.get(BUNDLE_DIR_ENV)
    if not directory:
        sys.exit(f"tokensmith: {BUNDLE_DIR_ENV} is not set")
    shadow_dir = os.environ.get(SHADOW_DIR_ENV)
    shadow = None
    if shadow_dir:
        shadow = ShadowOptions(shadow_dir, float(os.environ.get(SHADOW_SAMPLE_ENV, "1")))
    try:
        # the bundles are loaded again here: judged again, so a swap since the parent's check
        # is refused too
        runtime = prepare(directory, os.environ, _worker_trust(), shadow=shadow)
    except (BundleError, StartupError) as exc:
        sys.exit(f"tokensmith: {exc}")
    drain_seconds = float(os.environ.get(DRAIN_SECONDS_ENV, DRAIN_SECONDS))
    return create_app(runtime, Drain(drain_seconds))
