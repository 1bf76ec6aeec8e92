"""Key sources built at start-up: an identity provider's shared secret, or its inline `jwks`.

Selection rules (docs/secrets.md repeats them):
- a token with a `kid` gets the keys with exactly that `kid` that accept its `alg`; when there
  are none, the keys without a `kid` that accept it. An identity provider `secret` is one
  `HmacKey` without a `kid`, so it answers tokens with any `kid` (HMAC secrets have no key id,
  and State Backed's Supabase-style tokens carry arbitrary ones).
- a token without `kid` is tried against the compatible keys only when there are at most
  `MAX_KIDLESS_CANDIDATES` of them; otherwise nothing is tried.
- an unknown `kid` yields no candidates: a static source cannot learn new keys, so it never
  raises `UnknownKeyId` or `KeysNotReady`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .keys import VerificationKey

MAX_KIDLESS_CANDIDATES = 4


class StaticKeySource:
    """A fixed set of typed keys, indexed once by (`kid`, `alg`)."""

    __slots__ = ("_by_alg", "_by_kid", "_keys", "_kidless")

    def __init__(self, keys: Iterable[VerificationKey]) -> None:
        self._keys = tuple(keys)
        by_kid: dict[tuple[str, str], list[VerificationKey]] = {}
        kidless: dict[str, list[VerificationKey]] = {}
        by_alg: dict[str, list[VerificationKey]] = {}
        for key in self._keys:
            for alg in sorted(key.algorithms):
                by_alg.setdefault(alg, []).append(key)
                if key.kid is None:
                    kidless.setdefault(alg, []).append(key)
                else:
                    by_kid.setdefault((key.kid, alg), []).append(key)
        self._by_kid = {k: tuple(v) for k, v in by_kid.items()}
        self._kidless = {k: tuple(v) for k, v in kidless.items()}
        self._by_alg = {k: tuple(v) for k, v in by_alg.items() if len(v) <= MAX_KIDLESS_CANDIDATES}

    @property
    def keys(self) -> tuple[VerificationKey, ...]:
        return self._keys

    def signature_failed(self, kid: str) -> None:
        """Static keys cannot change: nothing to refetch."""

    def candidates(self, kid: str | None, alg: str) -> Sequence[VerificationKey]:
        """Keys to try for a token with this `kid` and `alg`, in configuration order."""
        if kid is None:
            return self._by_alg.get(alg, ())
        return self._by_kid.get((kid, alg)) or self._kidless.get(alg, ())
