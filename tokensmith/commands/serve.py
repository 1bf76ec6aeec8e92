"""`tokensmith serve BUNDLE_DIR [--host 127.0.0.1] [--port 8080] [--workers N]`.

Before opening a socket it verifies the bundle and resolves every secret reference; when
anything is wrong it prints every problem (never a secret) and exits 1. When the address
cannot be bound it exits 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve POST /tokens from a compiled bundle",
        description="Verify the bundle, resolve its secrets from the environment, and serve "
        "the token exchange on uvicorn. Exit 1 when the bundle or a secret is not usable.",
    )
    parser.add_argument("bundle", metavar="BUNDLE_DIR", help="a directory made by `compile`")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8080, help="port to bind (default 8080)")
    parser.add_argument(
        "--workers", type=_positive, default=1, help="worker processes (default 1)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tokensmith.runtime.errors import BundleError, StartupError
    from tokensmith.runtime.server import serve
    from tokensmith.runtime.startup import prepare

    try:
        service = prepare(args.bundle, os.environ)
    except BundleError as exc:
        print(f"tokensmith serve: {exc}", file=sys.stderr)
        return 1
    except StartupError as exc:
        print("tokensmith serve: cannot start:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(
        f"tokensmith serve: bundle {service.revision[:12]} on http://{args.host}:{args.port}"
        f" ({args.workers} worker{'s' if args.workers > 1 else ''})",
        file=sys.stderr,
        flush=True,
    )
    return serve(service, args.host, args.port, args.workers)


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("port must be between 0 and 65535")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
