"""Verification keys and where the exchange gets them.

A `VerificationKey` is a typed key object (never raw bytes picked by the token): it knows which
algorithms it may verify and does the signature check itself. A `KeySource` holds the keys of one
identity provider; the exchange asks it for candidates by `kid` and `alg` and never blocks: remote
(JWKS) sources answer from their current snapshot and signal `UnknownKeyId` / `KeysNotReady`
(see `runtime.errors`) so that the HTTP layer can refetch or wait outside the pure exchange.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class VerificationKey(Protocol):
    """One public key or shared secret of an identity provider."""

    @property
    def kid(self) -> str | None: ...

    @property
    def algorithms(self) -> frozenset[str]:
        """The JWS `alg` values this key may verify (already intersected with the provider's)."""
        ...

    def verify(self, alg: str, signing_input: bytes, signature: bytes) -> bool:
        """True when `signature` is valid for `signing_input` under `alg`; never raises."""
        ...


class KeySource(Protocol):
    """The keys of one identity provider."""

    def candidates(self, kid: str | None, alg: str) -> Sequence[VerificationKey]:
        """Keys to try for a token with this `kid` (None when absent) and `alg`, in order.

        Returns an empty sequence when no key fits. Raises `UnknownKeyId` when the source is
        remote and may learn the `kid` by refetching, `KeysNotReady` when it holds no keys yet.
        """
        ...

    def signature_failed(self, kid: str) -> None:
        """Called when every candidate for `kid` failed to verify a token's signature.

        A remote source raises `UnknownKeyId` when a (cooldown-limited, single-flight) refetch
        may bring new material for a `kid` the provider reused (rotation in place); a static
        source, or a remote one that is cooling down, returns and the token is refused.
        """
        ...
