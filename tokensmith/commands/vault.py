"""`tokensmith vault keygen|encrypt`: seal secrets so that they can be kept in git.

`keygen` prints a new vault key (keep it out of git; give it to the runtime as
`TOKENSMITH_VAULT_KEY`). `encrypt` reads one secret from standard input (one trailing newline
removed; a terminal is read without echo), seals it under `TOKENSMITH_VAULT_KEY` and prints the
reference to paste into the config, `{encrypted: "tsv1:..."}`.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "vault",
        help="seal secrets with AES-256-GCM under TOKENSMITH_VAULT_KEY",
        description="Seal secrets so that the config can keep them in git: create a vault key"
        " once with `keygen` (keep it out of git, give it to `tokensmith serve` as"
        " TOKENSMITH_VAULT_KEY), then `encrypt` each secret and paste the printed"
        ' {encrypted: "..."} as its reference.',
    )
    verbs = parser.add_subparsers(dest="vault_command", metavar="VAULT_COMMAND")
    verbs.required = True
    keygen = verbs.add_parser("keygen", help="print a new random vault key")
    keygen.set_defaults(func=_keygen)
    encrypt = verbs.add_parser(
        "encrypt", help="seal the secret read from standard input; print the value to paste"
    )
    encrypt.set_defaults(func=_encrypt)


def _keygen(args: argparse.Namespace) -> int:
    from tokensmith.runtime.vault import keygen

    print(keygen())
    return 0


def _encrypt(args: argparse.Namespace) -> int:
    from tokensmith.runtime.vault import VAULT_KEY_ENV, VaultError, parse_key, seal

    key_text = os.environ.get(VAULT_KEY_ENV)
    if not key_text:
        print(
            f"tokensmith vault encrypt: {VAULT_KEY_ENV} is not set"
            " (create one with `tokensmith vault keygen`)",
            file=sys.stderr,
        )
        return 2
    try:
        key = parse_key(key_text)
    except VaultError as exc:
        print(f"tokensmith vault encrypt: {VAULT_KEY_ENV}: {exc}", file=sys.stderr)
        return 2
    if sys.stdin is None:  # started with standard input closed
        print("tokensmith vault encrypt: standard input is closed; pipe the secret in",
              file=sys.stderr)
        return 2
    secret = _read_secret()
    if not secret:
        print("tokensmith vault encrypt: the secret on standard input is empty", file=sys.stderr)
        return 2
    print(f'{{encrypted: "{seal(key, secret)}"}}')
    return 0


def _read_secret() -> bytes:
    if sys.stdin.isatty():
        return getpass.getpass("secret: ").encode("utf-8")
    data = sys.stdin.buffer.read()
    if data.endswith(b"\r\n"):
        return data[:-2]
    return data[:-1] if data.endswith(b"\n") else data
