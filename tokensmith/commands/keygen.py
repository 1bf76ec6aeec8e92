"""`tokensmith keygen [--algorithm EdDSA|ES256|RS256] --out PREFIX`: a key pair for signing
bundles. Writes `PREFIX.key` (PKCS#8 PEM, mode 0600) and `PREFIX.pub` (SPKI PEM), never over an
existing file, and prints the key id (RFC 7638 thumbprint); the private key is never printed."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "keygen",
        help="make a key pair for signing bundles",
        description="Write PREFIX.key (the private key, PKCS#8 PEM, readable by you alone) and "
        "PREFIX.pub (the public key, SPKI PEM, for `verify --trust` and `serve --trust`), and "
        "print the key id. Never overwrites a file: exit 2 when either exists.",
    )
    parser.add_argument(
        "--algorithm", choices=("EdDSA", "ES256", "RS256"), default="EdDSA",
        help="EdDSA (Ed25519, the default), ES256 (P-256) or RS256 (RSA 3072)",
    )
    parser.add_argument("--out", metavar="PREFIX", required=True, help="path prefix of the files")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tokensmith.runtime.bundle_keys import generate_key

    private_path, public_path = f"{args.out}.key", f"{args.out}.pub"
    for path in (private_path, public_path):
        if os.path.lexists(path):
            print(f"tokensmith keygen: {path} exists; not overwriting it", file=sys.stderr)
            return 2
    private_pem, public_pem, kid = generate_key(args.algorithm)
    try:
        _write_new(private_path, private_pem, 0o600)
        _write_new(public_path, public_pem, 0o644)
    except OSError as exc:
        print(f"tokensmith keygen: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    print(kid)
    print(f"wrote {private_path} (keep it secret) and {public_path}", file=sys.stderr)
    return 0


def _write_new(path: str, data: bytes, mode: int) -> None:
    # O_EXCL: never replace a file, even one created since the check above
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)  # the umask may have narrowed the public key's mode
