"""HMAC (RFC 2104) with a key's two padded hash states computed once, for HS256/384/512.

`hmac.digest(key, message, sha256)` redoes the key schedule and, under OpenSSL 3, fetches the
MAC and digest implementations by name on every call, and in the server it runs with cold
caches, once to verify an HS* subject token and once to sign the issued one. `PrecomputedHmac` hashes `key XOR ipad` and `key XOR opad` once
and per message only copies those two states: the same bytes as `hmac.digest` (tested against
it), at a fraction of the cost (`bench/README.md`, "Figures behind design choices").
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

# RFC 2104 §2: the inner and outer pads, as translation tables over key bytes
_IPAD = bytes(byte ^ 0x36 for byte in range(256))
_OPAD = bytes(byte ^ 0x5C for byte in range(256))

DIGESTS: dict[str, Callable[..., Any]] = {
    "HS256": hashlib.sha256,
    "HS384": hashlib.sha384,
    "HS512": hashlib.sha512,
}


class PrecomputedHmac:
    """`digest(message)` = `hmac.digest(key, message, hash)`; the key is kept only as hash states."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes, hash_constructor: Callable[..., Any]) -> None:
        inner = hash_constructor()
        outer = hash_constructor()
        block_size: int = inner.block_size
        if len(key) > block_size:  # RFC 2104 §2: a key longer than a block is hashed first
            key = hash_constructor(key).digest()
        padded = key.ljust(block_size, b"\0")
        inner.update(padded.translate(_IPAD))
        outer.update(padded.translate(_OPAD))
        self._inner = inner
        self._outer = outer

    @classmethod
    def for_algorithm(cls, key: bytes, alg: str) -> PrecomputedHmac:
        """The HMAC of `key` for `alg` (HS256, HS384 or HS512)."""
        return cls(key, DIGESTS[alg])

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        result: bytes = outer.digest()
        return result

    def __repr__(self) -> str:  # never shows key material
        return f"PrecomputedHmac({self._inner.name})"
