"""Rules on signing keys: the key material field must fit the algorithm.

Code: E346 HS* without `secret` or with `private_key`; RS*, PS*, ES*, EdDSA without
`private_key` or with `secret`. The key material itself is a secret reference that the compiler
never resolves, so its size and type are checked by the runtime when it loads the key.
"""

from __future__ import annotations

from collections.abc import Iterator

from tokensmith.schema.codes import E346
from tokensmith.schema.diagnostics import Diagnostic
from tokensmith.schema.location import SourceMap
from tokensmith.schema.models import HMAC_ALGORITHMS, Config, SigningKey

from ._common import Rule, signing_key_path


def _material_problem(key: SigningKey) -> tuple[str, str] | None:
    """(field to point at, message) when the material fields do not fit the algorithm."""
    if key.algorithm in HMAC_ALGORITHMS:
        if key.private_key is not None:
            return (
                "private_key",
                f"{key.algorithm} signs with a shared `secret`, not a `private_key`",
            )
        if key.secret is None:
            return "algorithm", f"{key.algorithm} needs a `secret`"
        return None
    if key.secret is not None:
        return "secret", f"{key.algorithm} signs with a `private_key` (PEM), not a `secret`"
    if key.private_key is None:
        return "algorithm", f"{key.algorithm} needs a `private_key` (PEM)"
    return None


def material_fits_algorithm(config: Config, source_map: SourceMap) -> Iterator[Diagnostic]:
    for name, key in config.signing_keys.items():
        problem = _material_problem(key)
        if problem is None:
            continue
        field, message = problem
        yield Diagnostic(
            E346,
            f"signing key '{name}': {message}",
            source_map.key(signing_key_path(name, field)),
            "HS256/384/512 take `secret: {env: NAME}`; RS*, PS*, ES*, EdDSA take "
            "`private_key: {file: PATH}`",
        )


RULES: tuple[Rule, ...] = (material_fits_algorithm,)
