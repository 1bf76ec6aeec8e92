"""What `sign`, `verify`, `compile --sign` and `serve --trust` share: the KEY and PUB arguments,
signing a bundle directory in place, and the trust list from flags or `TOKENSMITH_TRUST`."""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokensmith.runtime.bundle_keys import BundleSigningKey
    from tokensmith.runtime.bundle_signatures import Trust

TRUST_ENV = "TOKENSMITH_TRUST"
MAX_KEY_BYTES = 64 * 1024
_DURATION = re.compile(r"([0-9]{1,6})([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> int:
    """`--valid-for`: digits and one unit (`90d`, `12h`, `30m`, `3600s`), more than zero."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(
            f"not a duration: {text[:40]!r} (digits and a unit: 90d, 12h, 30m, 3600s)"
        )
    return int(match.group(1)) * _UNITS[match.group(2)]


def required_signatures(text: str) -> int:
    """`--require-signatures`: 1 to 64."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text[:40]!r}") from None
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError("must be 1 to 64")
    return value


def add_trust_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "--trust", action="append", metavar="PUB", required=required, default=None,
        help="a public key the bundle must be signed by: a PEM (SPKI), JWK or JWK Set file, or "
        "a directory of them; repeat for several",
    )
    parser.add_argument(
        "--require-signatures", type=required_signatures, default=None, metavar="N",
        help="how many distinct trusted keys must have signed (default 1)",
    )


def read_signing_key(spec: str, env: Mapping[str, str]) -> BundleSigningKey:
    """The private key named by KEY: a PEM path or `env:NAME`; `SigningKeyError` (a
    `BundleError`) when it cannot sign bundles. Never echoes its content."""
    from tokensmith.runtime.bundle_keys import load_signing_key
    from tokensmith.runtime.signing import SigningKeyError

    if spec.startswith("env:"):
        name = spec[4:]
        if name not in env or not env[name].strip():
            raise SigningKeyError(f"KEY {spec}: the environment variable {name} is not set")
        material = env[name].encode("utf-8")
    else:
        try:
            with open(spec, "rb") as handle:
                material = handle.read(MAX_KEY_BYTES + 1)
        except OSError as exc:
            raise SigningKeyError(f"KEY {spec}: cannot read ({exc.strerror})") from None
        if len(material) > MAX_KEY_BYTES:
            raise SigningKeyError(f"KEY {spec}: too large to be a key")
    return load_signing_key(material, f"KEY {spec}")


def sign_directory(directory: str, key: BundleSigningKey, valid_for: int | None) -> str:
    """Add `key`'s signature to the bundle in `directory` (which must load); its JWS.

    Only `signatures.json` is written, by replacing it whole (write aside, then rename), so a
    reader never sees half a file and no other file of the bundle changes.
    """
    from tokensmith.runtime.bundle import MANIFEST, SIGNATURES, load_bundle
    from tokensmith.runtime.bundle_signatures import make_signature, with_signature

    bundle = load_bundle(directory)  # the bundle checks out before anyone vouches for it
    with open(os.path.join(directory, MANIFEST), "rb") as handle:
        manifest = handle.read()
    target = os.path.join(directory, SIGNATURES)
    existing = None
    if os.path.exists(target):
        with open(target, "rb") as handle:
            existing = handle.read()
    jws = make_signature(key, bundle.revision, manifest, int(time.time()), valid_for)
    content = with_signature(existing, jws)
    fd, staging = tempfile.mkstemp(prefix=".signatures-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(staging, 0o644)
        os.replace(staging, target)
    except BaseException:
        if os.path.exists(staging):
            os.unlink(staging)
        raise
    return jws


def trust_paths(flags: Sequence[str] | None, env: Mapping[str, str]) -> list[str]:
    """The trust list: the `--trust` flags, or else `TOKENSMITH_TRUST` (comma-separated).

    A `TOKENSMITH_TRUST` that is set but names nothing is a `TrustError`, not "no trust": an
    empty value in a manifest must not quietly turn the check off.
    """
    from tokensmith.runtime.bundle_keys import TrustError

    if flags:
        return list(flags)
    if TRUST_ENV not in env:
        return []
    paths = [part.strip() for part in env[TRUST_ENV].split(",") if part.strip()]
    if not paths:
        raise TrustError(f"{TRUST_ENV} is set but names no key file or directory")
    return paths


def load_trust(paths: Sequence[str], required: int | None) -> Trust:
    """The `Trust` of `paths`; `TrustError` when a path is not usable."""
    from tokensmith.runtime.bundle_keys import load_trust as load_keys
    from tokensmith.runtime.bundle_signatures import Trust

    return Trust(load_keys(paths), 1 if required is None else required)
