"""`tokensmith serve BUNDLE_DIR [--host 127.0.0.1] [--port 8080] [--workers N]`.

Before opening a socket it verifies the bundle and resolves every secret reference; when
anything is wrong it prints every problem (never a secret) and exits 1. When the address
cannot be bound, or the bundle directory cannot be read, it exits 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ._args import MAX_WORKERS, port, workers


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve POST /tokens from a compiled bundle",
        description="Verify the bundle, resolve its secrets from the environment, and serve "
        "the token exchange on uvicorn. Exit 1 when the bundle or a secret is not usable, "
        "2 when the bundle cannot be read or the address cannot be bound.",
    )
    parser.add_argument("bundle", metavar="BUNDLE_DIR", help="a directory made by `compile`")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=port, default=8080, help="port to bind (default 8080)")
    parser.add_argument(
        "--workers", type=workers, default=1,
        help=f"worker processes, 1 to {MAX_WORKERS} (default 1)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tokensmith.runtime.errors import BundleError, StartupError
    from tokensmith.runtime.server import serve
    from tokensmith.runtime.startup import prepare

    if not os.path.exists(args.bundle):
        print(f"tokensmith serve: cannot read {args.bundle}: no such file or directory",
              file=sys.stderr)
        return 2
    try:
        runtime = prepare(args.bundle, os.environ)
    except OSError as exc:
        # e.g. a bundle directory or file without read permission
        where = exc.filename or args.bundle
        print(f"tokensmith serve: cannot read {where}: {exc.strerror}", file=sys.stderr)
        return 2
    except StartupError as exc:  # before BundleError, its root
        print("tokensmith serve: cannot start:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    except BundleError as exc:
        print(f"tokensmith serve: {exc}", file=sys.stderr)
        return 1
    print(
        f"tokensmith serve: bundle {runtime.revision[:12]} on http://{args.host}:{args.port}"
        f" ({args.workers} worker{'s' if args.workers > 1 else ''})",
        file=sys.stderr,
        flush=True,
    )
    return serve(runtime, args.host, args.port, args.workers)

