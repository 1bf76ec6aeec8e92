"""`tokensmith verify BUNDLE_DIR --trust PUB ... [--require-signatures N]`.

One line per signature (key id, algorithm, verdict and why); exit 0 only when at least N
distinct trusted keys made valid, unexpired signatures of this exact bundle, 1 otherwise (the
reasons on stderr), 2 when BUNDLE_DIR or a PUB cannot be read."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ._signing import add_trust_arguments


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check a bundle's signatures against trusted public keys",
        description="Judge every signature of BUNDLE_DIR/signatures.json against the trusted "
        "keys and print one line each. Exit 0 when at least N distinct trusted keys signed "
        "this bundle (valid, unexpired), 1 otherwise, 2 for unreadable input.",
    )
    parser.add_argument("bundle", metavar="BUNDLE_DIR", help="a directory made by `compile`")
    add_trust_arguments(parser, required=True)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tokensmith.runtime.bundle import load_bundle
    from tokensmith.runtime.bundle_keys import TrustError
    from tokensmith.runtime.bundle_signatures import SignatureError
    from tokensmith.runtime.errors import BundleError

    from ._signing import load_trust

    try:
        trust = load_trust(args.trust, args.require_signatures)
    except TrustError as exc:
        print(f"tokensmith verify: --trust {exc}", file=sys.stderr)
        return 2
    if not os.path.isdir(args.bundle):
        print(f"tokensmith verify: {args.bundle}: not a bundle directory", file=sys.stderr)
        return 2
    try:
        bundle = load_bundle(args.bundle, trust)
    except SignatureError as exc:
        for verdict in exc.report.verdicts if exc.report else ():
            print(verdict.line())
        print(f"tokensmith verify: refused: {exc.problems[0]}", file=sys.stderr)
        return 1
    except BundleError as exc:
        print(f"tokensmith verify: refused: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"tokensmith verify: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    report = bundle.signatures
    assert report is not None  # loaded with trust
    for verdict in report.verdicts:
        print(verdict.line())
    for warning in report.warnings:
        print(f"tokensmith verify: warning: {warning}", file=sys.stderr)
    print(f"verified revision {bundle.revision}: signed by {', '.join(report.signers)}")
    return 0
