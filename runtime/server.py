"""Run the app on uvicorn with uvloop and httptools.

With one worker the app is built in this process from the `Runtime` that `prepare` already
checked. With several, uvicorn starts worker processes that import `app_from_environment` (a
factory) and rebuild the runtime from the bundle directory passed in `TOKENSMITH_BUNDLE_DIR`;
the parent checked the same bundle, signatures and secrets first (the workers judge the
signatures again with the parent's trust), so a worker fails only if they changed.
uvicorn's own access log is off: `runtime.accesslog` writes one JSON line per request to
standard error.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from . import accesslog
from .app import create_app
from .bundle_keys import load_trust
from .bundle_signatures import Trust
from .errors import BundleError, StartupError
from .startup import Runtime, ShadowOptions, prepare

BUNDLE_DIR_ENV = "TOKENSMITH_BUNDLE_DIR"
#: for worker processes: the shadow candidate's directory and sample (`serve --shadow`)
SHADOW_DIR_ENV = "TOKENSMITH_SHADOW_DIR"
SHADOW_SAMPLE_ENV = "TOKENSMITH_SHADOW_SAMPLE"
#: The trust the parent judged the bundle with, for the workers: JSON `{"paths", "required"}`.
WORKER_TRUST_ENV = "TOKENSMITH_WORKER_TRUST"
FACTORY = "tokensmith.runtime.server:app_from_environment"

#: Seconds an idle keep-alive connection stays open; uvicorn's default (5) fits behind a proxy.
KEEP_ALIVE_SECONDS = 5


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
        "log_level": "warning",
    }


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
    runtime: Runtime, host: str, port: int, workers: int = 1, shadow: ShadowOptions | None = None
) -> int:
    """Serve until interrupted; `runtime` was prepared from `runtime.bundle.path`.

    Returns the exit status: 0 after a normal shutdown, 2 when the server could not start
    (the address is in use, or the port needs privileges); uvicorn has logged why.
    """
    accesslog.configure()
    options = server_options(host, port)
    try:
        if workers <= 1:
            uvicorn.run(create_app(runtime), **options)
        else:
            if runtime.bundle.path is None:
                raise ValueError("several workers need a bundle directory")
            os.environ[BUNDLE_DIR_ENV] = os.path.abspath(runtime.bundle.path)
            if shadow is not None:
                os.environ[SHADOW_DIR_ENV] = os.path.abspath(shadow.directory)
                os.environ[SHADOW_SAMPLE_ENV] = repr(shadow.sample)
            uvicorn.run(FACTORY, factory=True, workers=workers, **options)
    except SystemExit as exc:  # uvicorn exits with 3 when it cannot bind or start
        return 0 if exc.code in (None, 0) else 2
    finally:
        accesslog.flush()
    return 0


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
    return create_app(runtime)
