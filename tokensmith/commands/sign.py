"""`tokensmith sign BUNDLE_DIR --key KEY [--valid-for DURATION]`: add one signature.

KEY is a private key PEM path or `env:NAME` (the PEM in an environment variable, as a CI's
secret store hands it over). Only `signatures.json` changes; the revision and every other file
stay as they are. Exit 1 when the key cannot sign bundles or the bundle does not check out."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from ._signing import duration

if TYPE_CHECKING:
    from tokensmith.runtime.bundle_keys import BundleSigningKey


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sign",
        help="add a signature to a compiled bundle",
        description="Sign the bundle's manifest with KEY (EdDSA, ES256 or RS256 private key: "
        "a PEM path, or env:NAME) and add the signature to BUNDLE_DIR/signatures.json, keeping "
        "those already there. The revision and the other files never change. Prints the key id.",
    )
    parser.add_argument("bundle", metavar="BUNDLE_DIR", help="a directory made by `compile`")
    add_sign_arguments(parser, flag="--key")
    parser.set_defaults(func=run)


def add_sign_arguments(parser: argparse.ArgumentParser, *, flag: str) -> None:
    required = flag == "--key"
    parser.add_argument(
        flag, dest="key", metavar="KEY", required=required, default=None,
        help="the private key: a PEM file, or env:NAME for a PEM in the environment",
    )
    parser.add_argument(
        "--valid-for", type=duration, metavar="DURATION", default=None,
        help="the signature expires after this long (90d, 12h, ...); default: never",
    )


def run(args: argparse.Namespace) -> int:
    key = signing_key_or_report("sign", args.key)
    if key is None:
        return 1
    return sign_and_report("sign", args.bundle, key, args.valid_for)


def signing_key_or_report(verb: str, key_spec: str) -> BundleSigningKey | None:
    """The key KEY names, or None after saying why it cannot sign bundles."""
    from tokensmith.runtime.errors import BundleError

    from ._signing import read_signing_key

    try:
        return read_signing_key(key_spec, os.environ)
    except BundleError as exc:
        print(f"tokensmith {verb}: {exc}", file=sys.stderr)
        return None


def sign_and_report(verb: str, bundle: str, key: BundleSigningKey, valid_for: int | None) -> int:
    """Sign `bundle` with `key` and say so; the exit code (1 for a refused bundle)."""
    from tokensmith.runtime.errors import BundleError

    from ._signing import sign_directory

    try:
        sign_directory(bundle, key, valid_for)
    except BundleError as exc:
        print(f"tokensmith {verb}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"tokensmith {verb}: cannot write {bundle}: {exc.strerror}", file=sys.stderr)
        return 2
    expiry = "" if valid_for is None else time.strftime(
        ", expires %Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + valid_for)
    )
    print(f"signed {bundle} with key {key.kid} ({key.algorithm}{expiry})", file=sys.stderr)
    return 0
