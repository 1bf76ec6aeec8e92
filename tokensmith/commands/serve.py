"""`tokensmith serve BUNDLE_DIR [--host 127.0.0.1] [--port 8080] [--workers N]
[--trust PUB ... [--require-signatures N]] [--drain-seconds S]
[--shadow CANDIDATE_DIR [--shadow-sample F]]`.

With trust (`--trust`, or else `TOKENSMITH_TRUST`, comma-separated), only a bundle that `verify`
accepts is served: anything else, a trust list that cannot be read included, exits 1 with the
reasons, and there is no flag to turn that off. Without trust it serves with one warning line.
A shadow candidate (`docs/shadow.md`) is loaded under the same trust as the live bundle.

Before opening a socket it verifies the bundle and resolves every secret reference; when
anything is wrong it prints every problem (never a secret) and exits 1. A path that is not a
bundle at all (missing, not a directory, no `manifest.json`: a config, say) is a usage error,
exit 2, as are a bundle that cannot be read and an address that cannot be bound. The line
saying where it serves is printed once the socket listens, never before a refusal.
On SIGTERM it drains for S seconds, then stops and exits 0 (`runtime.shutdown`).
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
from typing import TYPE_CHECKING, Any

from ._args import MAX_WORKERS, port, workers
from ._signing import TRUST_ENV, add_trust_arguments

if TYPE_CHECKING:
    from tokensmith.runtime.bundle_signatures import SignatureReport

#: The longest drain `--drain-seconds` takes: an hour is already far more than any grace period.
MAX_DRAIN_SECONDS = 3600.0


def sample(text: str) -> float:
    """`--shadow-sample`: a number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, not {text}")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve POST /tokens from a compiled bundle",
        description="Verify the bundle, resolve its secrets from the environment, and serve "
        "the token exchange on uvicorn. Exit 1 when the bundle is refused (altered, of an "
        "unknown format, too large, or, with trust given, not signed as required) or a secret "
        "is not usable; exit 2 when BUNDLE_DIR is not a "
        "bundle (missing, not a directory, or without manifest.json, such as a config: compile "
        "it first), cannot be read, or the address cannot be bound.",
    )
    parser.add_argument("bundle", metavar="BUNDLE_DIR", help="a directory made by `compile`")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=port, default=8080, help="port to bind (default 8080)")
    parser.add_argument(
        "--workers", type=workers, default=1,
        help=f"worker processes, 1 to {MAX_WORKERS} (default 1)",
    )
    add_trust_arguments(parser, required=False)
    parser.add_argument(
        "--shadow", metavar="CANDIDATE_DIR",
        help="also decide exchanges with this candidate bundle, after the live answer, and "
        "count how its decisions differ (never answered with; see docs/shadow.md)",
    )
    parser.add_argument(
        "--shadow-sample", metavar="F", type=sample, default=None,
        help="the share of exchanges the candidate decides, 0 to 1 (default 1)",
    )
    parser.add_argument(
        "--drain-seconds", type=drain_seconds, default=5.0, metavar="S",
        help="on SIGTERM, answer /readyz 503 and keep serving for S seconds (default 5), then "
        "stop accepting, finish the requests in flight and exit 0; SIGINT stops without a drain",
    )
    parser.set_defaults(func=run)


def drain_seconds(text: str) -> float:
    """Seconds of draining after SIGTERM: 0 to `MAX_DRAIN_SECONDS`, decimals allowed."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text[:40]!r}") from None
    if not math.isfinite(value) or not 0 <= value <= MAX_DRAIN_SECONDS:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_DRAIN_SECONDS:g} seconds")
    return value


def run(args: argparse.Namespace) -> int:
    from tokensmith.runtime.bundle_keys import TrustError
    from tokensmith.runtime.bundle_signatures import SignatureError
    from tokensmith.runtime.errors import BundleError, StartupError
    from tokensmith.runtime.server import listen, pass_trust_to_workers, serve
    from tokensmith.runtime.startup import ShadowOptions, prepare

    from ._signing import load_trust, trust_paths

    usage = _usage_problem(args)
    if usage is not None:
        print(f"tokensmith serve: {usage}", file=sys.stderr)
        return 2
    shadow = None
    if args.shadow is not None:
        fraction = 1.0 if args.shadow_sample is None else args.shadow_sample
        shadow = ShadowOptions(args.shadow, fraction)
    try:
        # With trust given, nothing turns the check off: a trust that cannot be read refuses.
        paths = trust_paths(args.trust, os.environ)
        if args.require_signatures is not None and not paths:
            raise TrustError(f"--require-signatures needs --trust or {TRUST_ENV}")
        trust = load_trust(paths, args.require_signatures) if paths else None
        runtime = prepare(args.bundle, os.environ, trust, shadow=shadow)
    except OSError as exc:
        # e.g. a bundle directory or file without read permission
        where = exc.filename or args.bundle
        print(f"tokensmith serve: cannot read {where}: {exc.strerror}", file=sys.stderr)
        return 2
    except TrustError as exc:  # before BundleError, its root
        print(f"tokensmith serve: cannot start: trust {exc}", file=sys.stderr)
        return 1
    except SignatureError as exc:
        print("tokensmith serve: cannot start: the bundle's signatures are refused:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    except StartupError as exc:
        print("tokensmith serve: cannot start:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    except BundleError as exc:
        print(f"tokensmith serve: {exc}", file=sys.stderr)
        return 1
    if trust is not None:
        pass_trust_to_workers(paths, trust.required)
    try:
        sock = listen(args.host, args.port)
    except OSError as exc:  # in use, a privileged port, an address not of this machine
        reason = exc.strerror or str(exc)
        print(f"tokensmith serve: cannot listen on {_address(args.host, args.port)}: "
              f"{reason[:1].lower()}{reason[1:]}", file=sys.stderr)
        return 2
    bound_port = sock.getsockname()[1]  # the one chosen for --port 0
    _signature_notice(runtime.bundle.signatures)
    print(
        f"tokensmith serve: bundle {runtime.revision[:12]} on "
        f"http://{_address(args.host, bound_port)}"
        f" ({args.workers} worker{'s' if args.workers > 1 else ''})",
        file=sys.stderr,
        flush=True,
    )
    if runtime.shadow is not None:
        print(
            f"tokensmith serve: shadow candidate {runtime.shadow.revision[:12]}"
            f" deciding {runtime.shadow.sample:g} of exchanges",
            file=sys.stderr,
            flush=True,
        )
    return serve(runtime, sock, args.workers, args.drain_seconds, shadow)


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _signature_notice(report: SignatureReport | None) -> None:
    """One warning line without trust; the expiry warnings with it."""
    if report is None or not report.checked:
        what = "a bundle whose signatures" if report and report.present else "an unsigned bundle"
        verb = " are not checked" if report and report.present else ""
        print(
            f"tokensmith serve: warning: serving {what}{verb} (no --trust or {TRUST_ENV}): "
            "anyone who can write the bundle can change who gets in",
            file=sys.stderr,
        )
        return
    for warning in report.warnings:
        print(f"tokensmith serve: warning: {warning}", file=sys.stderr)


def _usage_problem(args: argparse.Namespace) -> str | None:
    """What makes the command line unusable (exit 2): a path that is not a bundle, or a
    `--shadow-sample` without `--shadow`."""
    if args.shadow_sample is not None and args.shadow is None:
        return "--shadow-sample needs --shadow"
    for path in (args.bundle, args.shadow):
        problem = None if path is None else _not_a_bundle(path)
        if problem is not None:
            return f"{path}: {problem}"
    return None


def _not_a_bundle(path: str) -> str | None:
    """Why `path` is not a bundle directory at all (a usage error), or None when it may be one:
    whether it is a sound bundle is `prepare`'s to say."""
    from tokensmith.runtime.bundle import MANIFEST

    if not os.path.exists(path):
        return "no such file or directory"
    compile_it = f"tokensmith compile {shlex.quote(path)} -o bundle/"
    config_hint = f"; it looks like a config: compile it first ({compile_it})"
    if not os.path.isdir(path):
        looks_like_config = path.endswith((".yaml", ".yml"))
        return "not a bundle directory" + (config_hint if looks_like_config else "")
    if os.path.exists(os.path.join(path, MANIFEST)):
        return None
    try:
        names = os.listdir(path)
    except OSError:
        return None  # unreadable: `prepare` says so
    looks_like_config = any(name.endswith((".yaml", ".yml")) for name in names)
    return f"no {MANIFEST}, so not a tokensmith bundle" + (config_hint if looks_like_config else "")
